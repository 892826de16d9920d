/**
 * `vouch trust import FILE|URL --name N [--sha256 HEX]`: check a Sigstore trusted root and store it under a name.
 * A URL is fetched (https, or http on this machine only); a `vouch serve` base URL means its published root
 * (`/.well-known/vouch/trusted_root.json`). Trusting a root is trusting whoever can sign for its authorities, so a
 * fetched root must be pinned by its SHA-256 (`--sha256`, from the publisher) or confirmed by a person at a
 * terminal who has seen its fingerprint and authorities; in a script without a pin it is refused.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_TIMEOUT_MS, httpRequest, isLoopback } from '../../core/http.ts';
import { readCapped } from '../../core/read.ts';
import { VouchError } from '../../errors.ts';
import { vouchHome } from '../../instance/home.ts';
import {
  importTrustedRoot,
  MAX_TRUSTED_ROOT_BYTES,
  parseTrustedRoot,
  summarize,
  type TrustSummary,
} from '../../instance/truststore.ts';
import { formatTrustImport, formatTrustShow } from '../format/trust.ts';
import { type CommandContext, defineCommand } from '../run.ts';

/** Where a `vouch serve` publishes its trusted root (src/server/stack.ts). */
const WELL_KNOWN_ROOT = '/.well-known/vouch/trusted_root.json';

interface ImportFlags {
  name: string;
  force?: boolean;
  sha256?: string;
}

export type TrustImportResult = TrustSummary & { sha256: string; from: string };

/** The URL a source names, or undefined for a file path. */
function sourceUrl(source: string): URL | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return undefined;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new VouchError('USAGE', `not a URL: ${source.slice(0, 200)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new VouchError(
      'USAGE',
      `a trusted root is fetched over https (plain http only on this machine): ${url.origin}`,
    );
  }
  if (url.username || url.password) throw new VouchError('USAGE', 'a trusted root URL carries no credentials');
  // A base URL (no document named): the instance's published root.
  if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/+$/, '')}${WELL_KNOWN_ROOT}`;
  return url;
}

async function fetchRoot(url: URL): Promise<Buffer> {
  const { body } = await httpRequest(url.href, `trusted root ${url.origin}`, {
    maxBytes: MAX_TRUSTED_ROOT_BYTES,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    tooLarge: () => new VouchError('TRUST_ROOT_INVALID', `the trusted root at ${url.href} exceeds 1 MiB`),
  });
  return body;
}

function checkPin(pin: string | undefined): string | undefined {
  if (pin === undefined) return undefined;
  const hex = pin.replace(/^sha256:/i, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new VouchError('USAGE', '--sha256 takes the 64 hex digits of a SHA-256');
  return hex;
}

export default defineCommand({
  async run([source]: [string], o: ImportFlags, ctx: CommandContext): Promise<TrustImportResult> {
    const pin = checkPin(o.sha256);
    const url = sourceUrl(source);
    const bytes = url
      ? await fetchRoot(url)
      : await readCapped(source, { maxBytes: MAX_TRUSTED_ROOT_BYTES, code: 'TRUST_ROOT_INVALID' });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const text = bytes.toString('utf8');
    if (pin !== undefined && pin !== sha256) {
      throw new VouchError('TRUST_ROOT_PIN_MISMATCH', `the trusted root's SHA-256 is ${sha256}, not ${pin}`);
    }
    if (url && pin === undefined) {
      // Checked before anyone is asked: a person should only ever be shown a well-formed root.
      const root = parseTrustedRoot(text, `trusted root at ${url.href}`);
      if (!ctx.interactive) {
        throw new VouchError('TRUST_ROOT_PIN_MISSING', `fetched ${url.href} (SHA-256 ${sha256}) without a pin`);
      }
      ctx.note(`${url.href}`);
      ctx.note(`  SHA-256 ${sha256}`);
      const preview = summarize({ name: o.name, source: 'imported', root, localIssuers: [], localDevelopment: false });
      for (const line of formatTrustShow([preview]).slice(1)) ctx.note(line);
      const { confirm } = await import('../io.ts');
      if (!(await confirm(`Trust this root as "${o.name}" (compare the SHA-256 with the publisher's)?`))) {
        throw new VouchError('USAGE', 'not imported');
      }
    }
    const entry = importTrustedRoot(vouchHome(), text, o.name, { force: Boolean(o.force) });
    return { ...summarize(entry), sha256, from: url ? url.href : source };
  },
  human: formatTrustImport,
});
