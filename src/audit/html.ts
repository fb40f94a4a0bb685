/**
 * `inspect --html`: one self-contained HTML file an auditor opens offline.
 *
 * Everything is inline (CSS, script, data); a Content-Security-Policy forbids
 * every fetch, so the page cannot reach the network even by mistake. The
 * report travels as JSON in a non-executable script element and the page's
 * script builds the tree with textContent only: annotations, labels and tags
 * come from somebody else's layout and are never interpreted as HTML.
 */
import { writeChunksAtomic } from '../fs/atomic.js';
import { jsonChunks } from '../util/json-chunks.js';
import { inspectJson, sourceOfReport, type InspectReport, type InspectSource } from './inspect.js';

export function renderInspectHtml(report: InspectReport): string {
  return [...inspectHtmlChunks(sourceOfReport(report))].join('');
}

/**
 * The page in pieces, for writing to a file as it is produced: the report's
 * JSON, the bulk of the page, is serialized root by root (see Inspection).
 */
function* inspectHtmlChunks(source: InspectSource): Generator<string, void, undefined> {
  yield pageHead(source.target);
  // The same document as `inspect --output json`, without spaces.
  for (const chunk of jsonChunks(inspectJson(source), { compact: true })) yield escapeForScript(chunk);
  yield pageTail();
}

/** Write the page to `file` atomically (temp file, then rename) as it is produced. */
export async function writeInspectHtml(file: string, source: InspectSource): Promise<void> {
  await writeChunksAtomic(file, inspectHtmlChunks(source));
}

function pageHead(target: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ocikit inspect --html">
<title>ocikit inspect: ${escapeHtml(target)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>ocikit inspect</h1>
  <p id="target"></p>
  <div id="stats"></div>
  <div id="verdict"></div>
</header>
<nav>
  <input id="search" type="search" placeholder="Search tags, digests, platforms, artifact types, annotations…" aria-label="Search" autocomplete="off">
  <span id="matches"></span>
  <button id="expand" type="button">Expand all</button>
  <button id="collapse" type="button">Collapse all</button>
</nav>
<main>
  <ul id="tree" class="tree"></ul>
  <section id="findings" hidden>
    <h2>Verification findings</h2>
    <table><thead><tr><th>severity</th><th>code</th><th>object</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script id="report" type="application/json">`;
}

/**
 * JSON that cannot end its script element or be read as markup: `<`, `>`, `&`
 * and line separators escaped. Each character is escaped on its own, so the
 * JSON can be escaped piece by piece.
 */
function escapeForScript(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function pageTail(): string {
  return `</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
#target { margin: 0 0 8px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); word-break: break-all; }
#stats { display: flex; flex-wrap: wrap; gap: 6px; }
.stat { background: var(--bg); border: 1px solid var(--line); border-radius: 12px; padding: 1px 10px; font-size: 12px; }
.stat b { font-weight: 600; }
#verdict { margin-top: 8px; font-weight: 600; }
#verdict.ok { color: var(--ok); } #verdict.bad { color: var(--bad); }
nav { position: sticky; top: 0; z-index: 1; display: flex; gap: 8px; align-items: center; padding: 8px 24px; background: var(--bg); border-bottom: 1px solid var(--line); }
#search { flex: 1; max-width: 560px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
#matches { color: var(--muted); font-size: 12px; min-width: 90px; }
button { font: inherit; font-size: 12px; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); cursor: pointer; }
main { padding: 12px 24px 40px; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 20px; }
ul.tree { padding-left: 0; }
/* Rows and summaries are blocks, not list items: Chromium renumbers list items one at a time
   when rows are hidden, which made the search quadratic (2,000 rows: 25 s; 12,500: minutes). */
li.node { display: block; margin: 2px 0; }
li.node[hidden], li.group[hidden] { display: none; }
summary { display: block; list-style: none; cursor: pointer; padding: 2px 4px; border-radius: 4px; }
summary::-webkit-details-marker { display: none; }
summary::before { content: "\\25B8"; display: inline-block; width: 1em; color: var(--muted); }
details[open] > summary::before { content: "\\25BE"; }
summary:hover { background: var(--panel); }
li.match > details > summary { background: #fff8c5; }
.label { font-weight: 600; margin-right: 6px; }
.kind { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; margin-right: 6px; border: 1px solid var(--line); text-transform: uppercase; letter-spacing: .03em; }
.badge-index { background: #ddf4ff; } .badge-image { background: #dafbe1; } .badge-artifact { background: #fbefff; } .badge-unreadable { background: #ffebe9; }
.digest { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); }
.size, .desc { margin-left: 8px; color: var(--muted); }
.status { margin-left: 8px; font-size: 12px; font-weight: 600; }
.status.ok { color: var(--ok); } .status.bad { color: var(--bad); } .status.warn { color: var(--warn); } .status.neutral { color: var(--muted); }
.body { margin: 2px 0 6px 22px; padding-left: 10px; border-left: 2px solid var(--line); }
.group > .group-title { font-size: 12px; color: var(--muted); margin: 6px 0 2px; }
table { border-collapse: collapse; margin: 4px 0; font-size: 12px; }
th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.problem { color: var(--bad); }
.sev-error { color: var(--bad); font-weight: 600; } .sev-warning { color: var(--warn); font-weight: 600; } .sev-note { color: var(--muted); }
`;

/** The page's script: plain ES2017, no modules, no network, no innerHTML with data. */
const SCRIPT = `
(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('report').textContent);
  var records = [];
  // Each referrer group with its rows, so the search hides an emptied group without querying the page.
  var referrerGroups = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function pl(n, one, many) { return n + ' ' + (n === 1 ? one : many); }
  function isBad(s) { return !!s && STATUS[s] !== undefined && STATUS[s][1] === 'bad'; }
  function bytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'], v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
  }
  var STATUS = {
    ok: ['verified', 'ok'], corrupt: ['corrupt', 'bad'], missing: ['missing', 'bad'], invalid: ['invalid', 'bad'],
    unreadable: ['unreadable', 'bad'], unverifiable: ['not checked', 'warn'], 'absent-ok': ['absent (expected)', 'neutral']
  };
  function status(s) {
    if (!s) return null;
    var d = STATUS[s] || [s, 'neutral'];
    var e = el('span', 'status ' + d[1], (d[1] === 'ok' ? '\\u2713 ' : d[1] === 'bad' ? '\\u2717 ' : '') + d[0]);
    e.setAttribute('data-status', s);
    return e;
  }
  function pairsTable(title, map) {
    var keys = Object.keys(map || {}).sort();
    if (keys.length === 0) return null;
    var wrap = el('div', 'pairs');
    wrap.appendChild(el('div', 'group-title', title));
    var t = el('table');
    keys.forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', k));
      tr.appendChild(el('td', 'mono', map[k]));
      t.appendChild(tr);
    });
    wrap.appendChild(t);
    return wrap;
  }
  function describe(n) {
    if (n.kind === 'index') return pl((n.children || []).length, 'manifest', 'manifests');
    if (n.kind === 'image') return pl(n.layerCount || 0, 'layer', 'layers') + ', ' + bytes(n.layersSize || 0) + (n.config && n.config.created ? ', created ' + n.config.created : '');
    if (n.kind === 'artifact' && n.artifact) {
      var a = n.artifact;
      if (a.category === 'sbom') return 'SBOM' + (a.format ? ' ' + a.format : '') + ', ' + bytes(a.payloadSize);
      if (a.category === 'signature') return 'signature' + (a.format ? ' (' + a.format + ')' : '') + ', ' + bytes(a.payloadSize);
      if (a.category === 'attestation') return 'attestation' + (a.predicateType ? ' ' + a.predicateType : '') + ', ' + bytes(a.payloadSize);
      return 'artifact, ' + bytes(a.payloadSize);
    }
    return n.problem ? 'unreadable' : '';
  }
  function searchText(n, label) {
    var parts = [label, n.digest, n.mediaType, n.kind, n.platform, n.artifactType, describe(n)];
    if (n.artifact) parts.push(n.artifact.category, n.artifact.format, n.artifact.predicateType);
    [n.annotations, n.config && n.config.labels].forEach(function (m) {
      Object.keys(m || {}).forEach(function (k) { parts.push(k + '=' + m[k]); });
    });
    if (n.config) parts.push(n.config.digest);
    (n.layers || []).forEach(function (l) { parts.push(l.digest, l.title); });
    return parts.filter(function (p) { return typeof p === 'string' && p; }).join(' ').toLowerCase();
  }

  function renderNode(n, label, depth, parentRecord) {
    var li = el('li', 'node kind-' + n.kind);
    li.setAttribute('data-digest', n.digest);
    li.setAttribute('data-kind', n.kind);
    var rec = { li: li, text: searchText(n, label), children: [], details: null };
    if (parentRecord) parentRecord.children.push(rec); else records.push(rec);
    var details = el('details');
    rec.details = details;
    details.open = openByDefault(depth);
    var summary = el('summary');
    if (label) summary.appendChild(el('span', 'label', label));
    summary.appendChild(el('span', 'kind badge-' + n.kind, n.kind === 'artifact' && n.artifact ? n.artifact.category : n.kind));
    summary.appendChild(el('span', 'digest', n.digest));
    summary.appendChild(el('span', 'desc', describe(n)));
    var st = status(n.status);
    if (st) summary.appendChild(st);
    // A manifest can check out while a blob it names does not: say so on the line people scan.
    var damaged = (n.layers || []).filter(function (l) { return isBad(l.status); }).length + (n.config && isBad(n.config.status) ? 1 : 0);
    if (damaged > 0) summary.appendChild(el('span', 'status bad', '\u2717 ' + pl(damaged, 'blob', 'blobs') + ' damaged'));
    details.appendChild(summary);

    var body = el('div', 'body');
    if (n.problem) body.appendChild(el('div', 'problem', 'problem: ' + n.problem));
    if (n.cycle) body.appendChild(el('div', 'problem', 'cycle: already shown above on this branch'));
    var facts = el('table', 'facts');
    function fact(k, v, node) {
      if (v === undefined || v === null || v === '') return;
      var tr = el('tr'); tr.appendChild(el('th', null, k));
      var td = el('td', 'mono', v); if (node) td.appendChild(node);
      tr.appendChild(td); facts.appendChild(tr);
    }
    fact('media type', n.mediaType);
    fact('manifest size', bytes(n.size));
    fact('artifact type', n.artifactType);
    if (n.artifact && n.artifact.signedDigest) fact('signs', n.artifact.signedDigest);
    if (n.config) {
      fact('config', n.config.digest + ' (' + bytes(n.config.size) + ')', status(n.config.status));
      fact('created', n.config.created);
      if (n.config.problem) fact('config problem', n.config.problem);
    }
    body.appendChild(facts);
    var labels = pairsTable('labels', n.config && n.config.labels);
    if (labels) body.appendChild(labels);
    var ann = pairsTable('annotations', n.annotations);
    if (ann) body.appendChild(ann);
    if (n.layers && n.layers.length) {
      var lw = el('div', 'layers');
      lw.appendChild(el('div', 'group-title', (n.kind === 'image' ? 'layers' : 'blobs') + ' (' + n.layers.length + ', ' + bytes(n.layersSize || 0) + ')'));
      var lt = el('table');
      n.layers.forEach(function (l) {
        var tr = el('tr');
        tr.appendChild(el('td', 'mono', l.digest));
        tr.appendChild(el('td', null, l.mediaType));
        tr.appendChild(el('td', null, bytes(l.size)));
        tr.appendChild(el('td', null, l.title || ''));
        var td = el('td'); var s = status(l.status); if (s) td.appendChild(s); tr.appendChild(td);
        lt.appendChild(tr);
      });
      lw.appendChild(lt);
      body.appendChild(lw);
    }
    if (n.children && n.children.length) {
      var ul = el('ul');
      n.children.forEach(function (c) { ul.appendChild(renderNode(c, c.platform || '', depth + 1, rec)); });
      body.appendChild(ul);
    }
    if (n.referrers && n.referrers.length) {
      var groups = Object.create(null); // keyed by artifact type: "constructor" is a type, not a member
      var order = [];
      n.referrers.forEach(function (r) {
        var key = r.artifactType || r.mediaType;
        if (!groups[key]) { groups[key] = []; order.push(key); }
        groups[key].push(r);
      });
      order.forEach(function (key) {
        var g = el('div', 'group referrers');
        g.appendChild(el('div', 'group-title', 'referrers: ' + key));
        var gu = el('ul');
        var entry = { el: g, lis: [] };
        groups[key].forEach(function (r) { var li = renderNode(r, '', depth + 1, rec); entry.lis.push(li); gu.appendChild(li); });
        referrerGroups.push(entry);
        g.appendChild(gu);
        body.appendChild(g);
      });
    }
    details.appendChild(body);
    li.appendChild(details);
    return li;
  }

  var total = 0;
  (function count(list) { list.forEach(function (n) { total++; count(n.children || []); count(n.referrers || []); }); })(report.roots.map(function (r) { return r.node; }));
  function openByDefault(depth) { return total <= 400 || depth < 1; }

  document.getElementById('target').textContent = report.target;
  var s = report.summary, stats = document.getElementById('stats');
  [['tag', 'tags', s.tags], ['image', 'images', s.images], ['index', 'indexes', s.indexes], ['artifact', 'artifacts', s.artifacts],
   ['manifest', 'manifests', s.manifests], ['blob', 'blobs', s.blobs], ['in total', 'in total', bytes(s.totalSize)]].forEach(function (p) {
    var e = el('span', 'stat'); e.appendChild(el('b', null, p[2])); e.appendChild(document.createTextNode(' ' + (p[2] === 1 ? p[0] : p[1]))); stats.appendChild(e);
  });
  var verdict = document.getElementById('verdict');
  if (report.verification) {
    var v = report.verification;
    verdict.className = v.ok ? 'ok' : 'bad';
    verdict.textContent = (v.ok ? '\\u2713 verified: ' : '\\u2717 verification failed: ') + pl(v.blobs, 'blob', 'blobs') + ' (' + bytes(v.bytes) + ') checked; ' +
      pl(v.errors, 'error', 'errors') + ', ' + pl(v.warnings, 'warning', 'warnings') + ', ' + pl(v.notes, 'note', 'notes');
    if (v.findings.length) {
      var section = document.getElementById('findings');
      section.hidden = false;
      var tbody = section.querySelector('tbody');
      v.findings.forEach(function (f) {
        var tr = el('tr');
        tr.appendChild(el('td', 'sev-' + f.severity, f.severity));
        tr.appendChild(el('td', null, f.code));
        tr.appendChild(el('td', 'mono', f.object + (f.location ? ' (' + f.location + ')' : '')));
        tr.appendChild(el('td', null, f.message));
        tbody.appendChild(tr);
      });
    }
  } else {
    verdict.textContent = 'not verified';
  }

  var tree = document.getElementById('tree');
  report.roots.forEach(function (r) {
    var label = r.tags.length ? r.tags.join(', ') : (r.orphan ? '(untagged, subject not present)' : '(untagged)');
    tree.appendChild(renderNode(r.node, label, 0, null));
  });
  if (report.roots.length === 0) tree.appendChild(el('li', 'empty', '(empty)'));

  // The search is one pass over the rows: each row's text was lowercased once when it was built,
  // and the page is only written where a row's state changes (every write costs the browser work).
  var matches = document.getElementById('matches');
  function filter(rec, q) {
    var own = q === '' || rec.text.indexOf(q) >= 0;
    var below = false;
    rec.children.forEach(function (c) { if (filter(c, q)) below = true; });
    var visible = own || below;
    if (rec.li.hidden !== !visible) rec.li.hidden = !visible;
    var marked = q !== '' && own;
    if (rec.li.classList.contains('match') !== marked) rec.li.classList.toggle('match', marked);
    if (q !== '' && below && !rec.details.open) rec.details.open = true;
    if (marked) hits++;
    return visible;
  }
  var hits = 0;
  function applySearch() {
    var q = document.getElementById('search').value.trim().toLowerCase();
    hits = 0;
    records.forEach(function (r) { filter(r, q); });
    referrerGroups.forEach(function (g) {
      var hide = !g.lis.some(function (li) { return !li.hidden; });
      if (g.el.hidden !== hide) g.el.hidden = hide;
    });
    matches.textContent = q === '' ? '' : hits + (hits === 1 ? ' match' : ' matches');
  }
  // A big report is searched once typing pauses, not on every key.
  var pending = null;
  document.getElementById('search').addEventListener('input', function () {
    if (total <= 2000) return applySearch();
    clearTimeout(pending);
    pending = setTimeout(applySearch, 150);
  });
  function setAll(open) { document.querySelectorAll('#tree details').forEach(function (d) { d.open = open; }); }
  document.getElementById('expand').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse').addEventListener('click', function () { setAll(false); });
  document.body.setAttribute('data-ready', 'true');
})();
`;
