/**
 * The structural check of a PE file's attribute certificate table: the 3CX / CVE-2013-3900 trick and its relatives.
 * Authenticode leaves the table out of the image digest, so bytes hidden in it (after the PKCS#7 blob, in extra
 * entries, in a table larger than its entries) or after it ride along under a still-valid signature. Windows checks
 * this only with the opt-in EnableCertPaddingCheck; osslsigncode and jsign not at all. `checkPe` is what the
 * directory hasher calls on each file whose first bytes are "MZ": one bounded read of the headers, one of the table.
 */
import { DerReader } from '../../core/der.ts';
import { VouchError } from '../../errors.ts';
import { type PeLayout, type PeSource, readLayout } from './layout.ts';

/**
 * Anomaly codes, stable like error codes. `refuse` ones make signing (and `verify --pe-strict`) fail unless the file
 * is explicitly allowed; `report` ones are listed only: nested signatures and unauthenticated attributes are common
 * in good files (dual SHA-1/SHA-256 signing, timestamps), but they are data the image digest does not cover.
 */
export const PE_ANOMALIES = {
  PE_SIGNATURE_PADDING: ['refuse', 'bytes after the PKCS#7 signature inside its certificate entry (CVE-2013-3900)'],
  PE_OVERLAY: ['refuse', 'data after the certificate table, outside the signature'],
  PE_CERTIFICATE_TABLE_SIZE: ['refuse', 'the certificate entries do not fill the certificate table exactly'],
  PE_EXTRA_CERTIFICATE: ['refuse', 'a certificate entry besides the one Authenticode signature, or of an unknown kind'],
  PE_NESTED_SIGNATURE: ['report', 'a nested Authenticode signature (unauthenticated attribute)'],
  PE_UNAUTHENTICATED_DATA: ['report', 'an unauthenticated attribute carrying data the signature does not cover'],
} as const satisfies Record<string, readonly ['refuse' | 'report', string]>;

export type PeAnomalyCode = keyof typeof PE_ANOMALIES;
/** The codes that refuse are error codes too (src/errors.ts): a refused file fails with its anomaly's code. */
export type RefusingCode = {
  [K in PeAnomalyCode]: (typeof PE_ANOMALIES)[K][0] extends 'refuse' ? K : never;
}[PeAnomalyCode];

export interface PeAnomaly {
  code: PeAnomalyCode;
  severity: 'refuse' | 'report';
  /** File offset and length of the bytes at fault. */
  offset: number;
  length: number;
  message: string;
}

/** WIN_CERTIFICATE wRevision and wCertificateType values (PE Format, The Attribute Certificate Table). */
export const WIN_CERT_REVISION_2_0 = 0x0200;
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

export interface CertificateEntry {
  /** File offset of the WIN_CERTIFICATE header. */
  offset: number;
  /** dwLength: header and bCertificate, as the entry says (the next entry starts at the 8-byte boundary after it). */
  length: number;
  revision: number;
  type: number;
  /** For a PKCS_SIGNED_DATA entry: the PKCS#7 DER (a view of the table bytes) and its file offset. */
  signature?: { offset: number; der: Buffer };
}

/** What the check found; `kind: 'not-pe'` for every file that is not a PE image (nothing more was read). */
export type PeCheck =
  | { kind: 'not-pe' }
  | {
      kind: 'pe';
      layout: PeLayout;
      /** The table's entries in file order; empty for an unsigned image. */
      entries: CertificateEntry[];
      anomalies: PeAnomaly[];
    };

function anomaly(code: PeAnomalyCode, offset: number, length: number, message: string): PeAnomaly {
  return { code, severity: PE_ANOMALIES[code][0], offset, length, message };
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * Check one file. `head` is what the caller already read from offset 0 (saves the first read). Throws PE_MALFORMED
 * for a PE image whose headers cannot be trusted; returns the anomalies otherwise (signed or not).
 */
export async function checkPe(source: PeSource, head?: Buffer): Promise<PeCheck> {
  const layout = await readLayout(source, head);
  if (!layout) return { kind: 'not-pe' };
  const anomalies: PeAnomaly[] = [];
  const entries: CertificateEntry[] = [];
  const table = layout.certificateTable;
  if (table) {
    const bytes = await source.read(table.offset, table.size);
    walkTable(bytes, table.offset, entries, anomalies);
    const end = table.offset + table.size;
    if (end < layout.fileSize) {
      anomalies.push(
        anomaly(
          'PE_OVERLAY',
          end,
          layout.fileSize - end,
          `${layout.fileSize - end} bytes after the certificate table (which should end the file)`,
        ),
      );
    }
    if (table.offset % 8 !== 0) {
      anomalies.push(
        anomaly('PE_CERTIFICATE_TABLE_SIZE', table.offset, table.size, 'the certificate table is not 8-byte aligned'),
      );
    }
  }
  return { kind: 'pe', layout, entries, anomalies };
}

/**
 * The table is a run of WIN_CERTIFICATE entries, each starting on an 8-byte boundary, that together fill the
 * directory's size exactly. Only the first PKCS_SIGNED_DATA entry with revision 2.0 is an Authenticode signature;
 * inside it, the PKCS#7 DER may be followed by zero bytes up to the next 8-byte boundary and nothing else.
 */
function walkTable(bytes: Buffer, base: number, entries: CertificateEntry[], anomalies: PeAnomaly[]): void {
  let pos = 0;
  while (pos < bytes.length) {
    const at = base + pos;
    const left = bytes.length - pos;
    const length = left >= 8 ? bytes.readUInt32LE(pos) : 0;
    if (left < 8 || length < 8 || length > left) {
      anomalies.push(
        anomaly(
          'PE_CERTIFICATE_TABLE_SIZE',
          at,
          left,
          left < 8 || length < 8
            ? `${left} bytes at the end of the certificate table are not a certificate entry`
            : `a certificate entry of ${length} bytes in the ${left} bytes left of the table`,
        ),
      );
      return;
    }
    const revision = bytes.readUInt16LE(pos + 4);
    const type = bytes.readUInt16LE(pos + 6);
    const entry: CertificateEntry = { offset: at, length, revision, type };
    entries.push(entry);
    const content = bytes.subarray(pos + 8, pos + length);
    if (entries.length > 1) {
      anomalies.push(
        anomaly('PE_EXTRA_CERTIFICATE', at, length, `certificate entry ${entries.length - 1}: only one is used`),
      );
    } else if (revision !== WIN_CERT_REVISION_2_0 || type !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      anomalies.push(
        anomaly(
          'PE_EXTRA_CERTIFICATE',
          at,
          length,
          `certificate entry of revision 0x${revision.toString(16)}, type ${type} (expected 0x200, PKCS_SIGNED_DATA)`,
        ),
      );
    } else {
      checkSignatureEntry(content, at + 8, entry, anomalies);
    }
    const next = pos + align8(length);
    if (next > bytes.length) {
      anomalies.push(
        anomaly(
          'PE_CERTIFICATE_TABLE_SIZE',
          at,
          length,
          `the table ends ${next - bytes.length} bytes before the 8-byte boundary of its last entry`,
        ),
      );
      return;
    }
    // Alignment bytes between entries are outside every entry: they must be zero too.
    const gap = bytes.subarray(pos + length, next);
    if (gap.some((b) => b !== 0)) {
      anomalies.push(anomaly('PE_SIGNATURE_PADDING', base + pos + length, gap.length, 'non-zero alignment padding'));
    }
    pos = next;
  }
}

function checkSignatureEntry(content: Buffer, at: number, entry: CertificateEntry, anomalies: PeAnomaly[]): void {
  let derLength: number;
  try {
    derLength = new DerReader(content, 'AUTHENTICODE_SIGNATURE_INVALID').next(0x30).raw.length;
  } catch {
    // Not one DER SEQUENCE: the Authenticode check reports the signature itself as invalid.
    entry.signature = { offset: at, der: content };
    return;
  }
  entry.signature = { offset: at, der: content.subarray(0, derLength) };
  const after = content.subarray(derLength);
  // Zero bytes up to the next 8-byte boundary (entries start aligned, so relative offsets do) are padding.
  const allowed = align8(8 + derLength) - (8 + derLength);
  if (after.length > allowed) {
    anomalies.push(
      anomaly(
        'PE_SIGNATURE_PADDING',
        at + derLength,
        after.length,
        `${after.length} bytes after the ${derLength}-byte PKCS#7 signature inside its certificate entry (at most ${allowed} bytes of zero padding belong there)`,
      ),
    );
  } else if (after.some((b) => b !== 0)) {
    anomalies.push(
      anomaly('PE_SIGNATURE_PADDING', at + derLength, after.length, 'non-zero padding after the PKCS#7 signature'),
    );
  }
}

/** The anomalies that refuse (a signer stops on them unless the file is explicitly allowed). */
export function refusals(anomalies: readonly PeAnomaly[]): Array<PeAnomaly & { code: RefusingCode }> {
  return anomalies.filter((a): a is PeAnomaly & { code: RefusingCode } => a.severity === 'refuse');
}

/** The first refusing anomaly as an error of its own code (`path` names the file for the message). */
export function anomalyError(path: string, a: PeAnomaly & { code: RefusingCode }): VouchError {
  return new VouchError(a.code, `${path}: ${a.message} (offset ${a.offset}, ${a.length} bytes)`, { details: a });
}
