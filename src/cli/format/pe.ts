/** One line for a checked PE file, shared by `sign` and `verify --pe-strict`. */
import type { PeRecord } from '../../artifact/pe/index.ts';

/** Its kind, its Authenticode state, its anomalies and an allowed failure. */
export function formatPeRecord(pe: PeRecord): string {
  const auth = pe.authenticode === 'unsigned' ? 'no Authenticode signature' : `Authenticode ${pe.authenticode}`;
  const anomalies =
    pe.anomalies.length === 0 ? 'no anomaly' : pe.anomalies.map((a) => `${a.code} at ${a.offset}`).join(', ');
  return `${pe.format}, ${auth}, ${anomalies}${pe.allowed ? ` (ALLOWED by --allow-pe-anomaly: ${pe.allowed})` : ''}`;
}
