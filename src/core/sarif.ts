/**
 * SARIF 2.1.0 logs (OASIS SARIF v2.1.0), the one writer of vouch's code-scanning output (`vouch verify --policy
 * --format sarif`, `vouch deps verify --format sarif`): a log of one run of the `vouch` tool (§3.13 sarifLog, §3.14
 * run, §3.19 toolComponent) with its rules (§3.49 reportingDescriptor) and results (§3.27), in the schema's own
 * shapes (@types/sarif). GitHub code scanning reads results located by paths relative to the checkout. Pure: the
 * callers print the log.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Log, ReportingDescriptor, Result } from 'sarif';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

export interface SarifRun {
  rules: ReportingDescriptor[];
  results: Result[];
  /** vouch's version (§3.19.13 version). */
  toolVersion?: string;
  /** Where a reader learns about the rules (§3.19.15 informationUri). */
  informationUri?: string;
  /** Run properties (§3.8 property bag). */
  properties?: Record<string, unknown>;
}

export function sarifLog(run: SarifRun): Log {
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'vouch',
            ...(run.toolVersion !== undefined ? { version: run.toolVersion } : {}),
            ...(run.informationUri !== undefined ? { informationUri: run.informationUri } : {}),
            rules: run.rules,
          },
        },
        results: run.results,
        ...(run.properties !== undefined ? { properties: run.properties } : {}),
      },
    ],
  };
}

/**
 * A local path as a URI reference (§3.4.3, RFC 3986): relative to `cwd` when it is inside it (`.` for `cwd`
 * itself), else absolute; forward slashes, each segment percent-encoded, so a `#`, `?` or `%` in a file name stays
 * part of the path.
 */
export function pathUri(path: string, cwd = process.cwd()): string {
  const abs = resolve(cwd, path);
  const rel = relative(cwd, abs);
  if (rel === '') return '.';
  const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  return (outside ? abs : rel)
    .split(sep)
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}
