/**
 * PE files: the structural check of the Authenticode certificate table (`checkPe`, cheap, for every PE file a
 * signer hashes) and the full Authenticode verification (`inspectPeFile`, for `vouch inspect` and
 * `verify --pe-strict`), with one rule for what fails (`peFailure`).
 */
import { X509Certificate } from 'node:crypto';
import { open } from 'node:fs/promises';
import { fileError } from '../../core/digest.ts';
import { pemCertificates } from '../../core/encoding.ts';
import { readCappedText } from '../../core/read.ts';
import { VouchError } from '../../errors.ts';
import type { AuthenticodeOptions, AuthenticodeReport } from './authenticode.ts';
import { anomalyError, checkPe, type PeAnomaly, type PeCheck, refusals } from './check.ts';
import { handleSource, type PeLayout, type PeSource } from './layout.ts';

// Types only: the PKCS#7 code (pkijs) is loaded when a signature is verified, not by a hasher calling checkPe.
export type {
  AuthenticodeOptions,
  AuthenticodeReport,
  CertificateSummary,
  SignatureReport,
  TimestampReport,
} from './authenticode.ts';
export { checkPe, PE_ANOMALIES, type PeAnomaly, type PeAnomalyCode, type PeCheck, refusals } from './check.ts';
export { ImageDigester, imageDigests } from './digest.ts';
export {
  bytesSource,
  excludedRanges,
  fdSource,
  handleSource,
  hasMzMagic,
  type PeLayout,
  type PeSource,
} from './layout.ts';

/** What `vouch inspect` prints for a PE file, and what `--pe-strict` judges. */
export interface PeInspection {
  kind: 'pe';
  path: string;
  format: PeLayout['format'];
  machine: string;
  size: number;
  sections: Array<{ name: string; offset: number; size: number }>;
  checksum: { offset: number; value: string };
  certificateTable: { offset: number; size: number } | null;
  entries: Array<{ offset: number; length: number; revision: number; type: number; signatureLength?: number }>;
  /** Table anomalies, then those found inside the signatures; each with its stable code and byte offsets. */
  anomalies: PeAnomaly[];
  authenticode: AuthenticodeReport;
}

const MACHINES: Record<number, string> = { 332: 'i386', 34404: 'x86-64', 43620: 'arm64', 452: 'armnt' };

/** Check and verify one PE file; undefined when the file is not a PE image. */
export async function inspectPeFile(
  path: string,
  options: AuthenticodeOptions = {},
): Promise<PeInspection | undefined> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fileError(Object.assign(new Error('not a regular file'), { code: 'EISDIR' }), path);
    return await inspectPe(path, handleSource(fh, st.size), options);
  } finally {
    await fh.close();
  }
}

/** The same over any source (`path` only names it in the result). */
export async function inspectPe(
  path: string,
  source: PeSource,
  options: AuthenticodeOptions = {},
): Promise<PeInspection | undefined> {
  const check = await checkPe(source);
  if (check.kind !== 'pe') return undefined;
  const { verifyAuthenticode } = await import('./authenticode.ts');
  const authenticode = await verifyAuthenticode(check, source, options);
  return describe(path, check, authenticode);
}

function describe(path: string, check: PeCheck & { kind: 'pe' }, authenticode: AuthenticodeReport): PeInspection {
  const l = check.layout;
  return {
    kind: 'pe',
    path,
    format: l.format,
    machine: MACHINES[l.machine] ?? `0x${l.machine.toString(16)}`,
    size: l.fileSize,
    sections: l.sections.map((s) => ({ name: s.name, offset: s.rawOffset, size: s.rawSize })),
    checksum: { offset: l.checksumOffset, value: l.checksum.toString(16).padStart(8, '0') },
    certificateTable: l.certificateTable ?? null,
    entries: check.entries.map((e) => ({
      offset: e.offset,
      length: e.length,
      revision: e.revision,
      type: e.type,
      ...(e.signature ? { signatureLength: e.signature.der.length } : {}),
    })),
    anomalies: [...check.anomalies, ...authenticode.anomalies],
    authenticode,
  };
}

/**
 * The error a strict check raises for this file, if any: a refusing anomaly of the table first (the 3CX trick is
 * reported as such even though its signature still verifies), then a failing Authenticode signature.
 */
export function peFailure(inspection: PeInspection): VouchError | undefined {
  const [first] = refusals(inspection.anomalies);
  if (first) return anomalyError(inspection.path, first);
  return authenticodeError(inspection.path, inspection.authenticode);
}

/** Roots files are a few certificates; anything larger is not one. */
const MAX_ROOTS_BYTES = 1 << 20;

/** `--authenticode-roots FILE`: PEM CA certificates, each checked to parse, as DER. */
export async function loadAuthenticodeRoots(path: string): Promise<Buffer[]> {
  // Capped while read: a FIFO or /dev/zero stops at the cap instead of being swallowed.
  const text = await readCappedText(path, {
    maxBytes: MAX_ROOTS_BYTES,
    code: 'USAGE',
    what: `--authenticode-roots ${path}`,
  });
  const roots = pemCertificates(text, `--authenticode-roots ${path}`, 'USAGE');
  for (const der of roots) {
    try {
      new X509Certificate(der);
    } catch (e) {
      throw new VouchError('USAGE', `--authenticode-roots ${path} holds a certificate that does not parse`, {
        cause: e,
      });
    }
  }
  return roots;
}

/**
 * What a signature or a strict verification records of a PE file it checked: its kind, whether its Authenticode
 * signature verified, every anomaly with its offsets, and the failure that `--allow-pe-anomaly` let through.
 */
export interface PeRecord {
  path: string;
  format: PeLayout['format'];
  authenticode: 'unsigned' | 'valid' | 'invalid';
  anomalies: Array<Pick<PeAnomaly, 'code' | 'offset' | 'length'>>;
  /** The code that would have refused this file, when it was explicitly allowed. */
  allowed?: string;
}

/**
 * The check a signer runs on a file before signing it (and `verify --pe-strict` after verifying it): undefined
 * for a file that is not a PE image, a record for a clean one, the error for one that fails unless `allow`.
 */
export async function enforcePe(
  path: string,
  options: AuthenticodeOptions & { allow?: boolean } = {},
): Promise<PeRecord | undefined> {
  const inspection = await inspectPeFile(path, options);
  if (!inspection) return undefined;
  const failure = peFailure(inspection);
  if (failure && !options.allow) throw failure;
  const signatures = inspection.authenticode.signatures;
  const record: PeRecord = {
    path,
    format: inspection.format,
    authenticode:
      signatures.length === 0
        ? 'unsigned'
        : signatures.every((s) => s.digestMatches && s.signatureValid)
          ? 'valid'
          : 'invalid',
    anomalies: inspection.anomalies.map(({ code, offset, length }) => ({ code, offset, length })),
  };
  if (failure) record.allowed = failure.code;
  return record;
}

/**
 * What makes a checked file fail (signing, `verify --pe-strict`): the first failing signature, as the error of its
 * kind. Chains and timestamps fail only when roots were given; without them they are reported, not judged.
 */
function authenticodeError(path: string, report: AuthenticodeReport): VouchError | undefined {
  for (const s of report.signatures) {
    const where = `${path}: Authenticode signature ${s.path}`;
    if (s.signedDigest !== undefined && !s.digestMatches) {
      return new VouchError(
        'AUTHENTICODE_DIGEST_MISMATCH',
        `${where}: image digest ${s.imageDigest} (${s.digestAlgorithm}), signed ${s.signedDigest}`,
      );
    }
    if (!s.signatureValid) {
      return new VouchError('AUTHENTICODE_SIGNATURE_INVALID', `${where}: ${s.problems[0] ?? 'does not verify'}`);
    }
    if (s.chainStatus === 'failed') {
      return new VouchError('AUTHENTICODE_CHAIN_INVALID', `${where}: ${s.problems.at(-1) ?? 'chain invalid'}`);
    }
    const t = s.timestamps.find((t) => !t.valid || t.chain === 'failed');
    if (t) return new VouchError('AUTHENTICODE_TIMESTAMP_INVALID', `${where}: ${t.problem ?? 'timestamp invalid'}`);
  }
  return undefined;
}
