import { LayoutDir } from '../../index.js';
import { defineCommand } from './command.js';

export default defineCommand<{ dir: string }>({
  command: 'init <dir>',
  examples: [
    ['$0 init ./layout', 'create an empty layout in ./layout'],
    ['$0 init ./layout --json', 'the same, printing {"path": ...}'],
  ],
  describe: 'create an empty OCI image layout (oci-layout, index.json, blobs/)',
  async handler(args, ctx) {
    const layout = await LayoutDir.init(args.dir);
    ctx.out.result({ path: layout.dir }, (r) => `initialised OCI layout ${r.path}`);
  },
});
