/** `vouch copy`, for people: the pushed image by digest, what was copied, and the signatures that came along. */
import { thousands } from '../../core/encoding.ts';
import type { CopySummary } from '../../workflow/copy-image.ts';

export function formatCopy(r: CopySummary): string[] {
  const b = r.blobs;
  const lines = [
    `Copied ${r.source}`,
    `  image      ${r.image.repository}@${r.image.digest}${r.image.tag !== undefined ? ` (tag ${r.image.tag})` : ''}`,
    `  manifests  ${r.manifests.length}, blobs ${b.copied} copied (${thousands(b.bytes)} bytes), ${b.present} already there`,
  ];
  for (const s of r.signatures)
    lines.push(
      `  signature  ${s.referrer} for ${s.subject} (${s.via === 'tag' ? 'referrers tag index' : 'referrers API'})`,
    );
  if (r.attached) {
    const a = r.attached;
    lines.push(`  signature  ${a.referrer} from ${a.bundlePath}${a.alreadyAttached ? ' (already attached)' : ''}`);
  }
  if (r.signatures.length === 0 && !r.attached) lines.push('  signature  none: the source carried no signature');
  return lines;
}
