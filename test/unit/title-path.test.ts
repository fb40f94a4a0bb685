/**
 * Layer titles as file paths (spec/title-path.ts): which titles `artifact
 * pull` refuses to write and `artifact push` refuses to make, how a title is
 * normalised, and which sets of titles cannot all be files.
 */
import { describe, expect, it } from 'vitest';
import { titleConflict, titleFilePath, titlePathProblem } from '../../src/spec/title-path.js';

describe('titlePathProblem', () => {
  it.each(['a.txt', 'docs/a.md', 'docs/sub/b.md', './a.txt', 'a//b', '.hidden', 'a..b', '...', 'a/.b/c', 'ü/名前.txt', 'a b'])('accepts %j', (title) => {
    expect(titlePathProblem(title)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['..', 'climbs out'],
    ['../x', 'climbs out'],
    ['a/../../x', 'climbs out through a directory'],
    ['a/..', 'ends in ..'],
    ['/etc/x', 'absolute'],
    ['//x', 'absolute'],
    ['a\\..\\..\\x', 'backslash separators (Windows)'],
    ['a\\b', 'backslash'],
    ['a\0b', 'NUL'],
    ['a/', 'a directory'],
    ['.', 'no file'],
    ['./', 'no file'],
    ['./.', 'no file'],
  ])('refuses %j (%s)', (title) => {
    expect(titlePathProblem(title)).toBeTypeOf('string');
  });
});

describe('titleFilePath', () => {
  it('drops `.` and empty components, so that two spellings of one file are one path', () => {
    expect(titleFilePath('./a//b/./c.txt')).toBe('a/b/c.txt');
    expect(titleFilePath('a.txt')).toBe('a.txt');
  });
});

describe('titleConflict', () => {
  it('finds the same path twice', () => {
    expect(titleConflict(['a', 'b', 'a'])).toEqual({ path: 'a', other: 'a' });
  });

  it('finds a path that is also the directory of another, in either order', () => {
    expect(titleConflict(['a/b', 'a'])).toEqual({ path: 'a/b', other: 'a' });
    expect(titleConflict(['x/y/z', 'x/y'])).toEqual({ path: 'x/y/z', other: 'x/y' });
  });

  it('lets siblings and shared directories be', () => {
    expect(titleConflict(['a/b', 'a/c', 'ab', 'a.b/c'])).toBeUndefined();
  });
});
