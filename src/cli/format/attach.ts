/** `vouch attach`, for people: which image now carries the bundle, and where. */
import type { AttachResult } from '../../workflow/attach-image.ts';

export function formatAttach(r: AttachResult): string[] {
  const where = r.alreadyAttached ? 'already attached' : r.via === 'tag' ? 'referrers tag index' : 'referrers API';
  return [
    `Attached ${r.target}`,
    `  image    ${r.image.repository}@${r.image.digest}`,
    `  referrer ${r.referrer} (${where})`,
  ];
}
