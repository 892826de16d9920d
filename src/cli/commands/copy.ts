/** `vouch copy SOURCE DESTINATION`: push a local (or another registry's) image with its signatures. */
import { parseTarget } from '../../artifact/target.ts';
import { type CopySummary, copyTarget } from '../../workflow/copy-image.ts';
import { formatCopy } from '../format/copy.ts';
import { defineCommand } from '../run.ts';

interface CopyFlags {
  bundle?: string;
  allowRepository?: string[];
  allowInsecureRegistry?: boolean;
}

export default defineCommand({
  async run([source, destination]: [string, string], f: CopyFlags): Promise<CopySummary> {
    return copyTarget(parseTarget(source), parseTarget(destination), {
      ...(f.bundle !== undefined ? { bundle: f.bundle } : {}),
      ...(f.allowRepository ? { allowRepositories: f.allowRepository } : {}),
      registry: { allowInsecure: f.allowInsecureRegistry ?? false },
    });
  },
  human: formatCopy,
});
