/** `vouch attach IMAGE --bundle FILE`: store a bundle made for a local image as a referrer of its pushed copy. */
import { parseTarget } from '../../artifact/target.ts';
import { type AttachResult, attachBundle } from '../../workflow/attach-image.ts';
import { readBundleFile } from '../../workflow/verify.ts';
import { formatAttach } from '../format/attach.ts';
import { defineCommand } from '../run.ts';

interface AttachFlags {
  bundle: string;
  allowRepository?: string[];
  allowInsecureRegistry?: boolean;
}

export default defineCommand({
  async run([image]: [string], f: AttachFlags): Promise<AttachResult> {
    const text = await readBundleFile(f.bundle);
    return attachBundle(parseTarget(image), text, {
      ...(f.allowRepository ? { allowRepositories: f.allowRepository } : {}),
      registry: { allowInsecure: f.allowInsecureRegistry ?? false },
    });
  },
  human: formatAttach,
});
