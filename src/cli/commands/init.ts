import { LayoutDir } from '../../index.js';
import { defineCommand } from './command.js';

export default defineCommand<{ dir: string }>({
  command: 'init <dir>',
  describe: 'create an empty OCI image layout (oci-layout, index.json, blobs/)',
  async handler(args, ctx) {
    const layout = await LayoutDir.init(args.dir);
    ctx.out.result({ path: layout.dir }, (r) => `initialised OCI layout ${r.path}`);
  },
});
