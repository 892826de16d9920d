/**
 * Where a verification policy comes from: a local file, or a publisher's URL. A URL is never trusted on its own:
 * it needs the digest of the policy the customer expects (`--policy-digest sha256:...`), or a copy pinned in the
 * trust store (`vouch policy pin URL --policy-digest ...`). It is fetched at most once per digest (deadline,
 * byte cap, no redirects) and kept under `$VOUCH_HOME/policies/<hex>`, so verification itself stays offline.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { httpRequest, isLoopback } from '../core/http.ts';
import { asObject, parseStrictJson } from '../core/json.ts';
import { readCapped, readCappedSync } from '../core/read.ts';
import { VouchError } from '../errors.ts';
import { paths, vouchHome } from './home.ts';

/** Policies are small documents; the same cap as the policy loader's. */
const MAX_POLICY_BYTES = 1 << 20;
/** The pins file lists URLs and digests: a few KiB in any real trust store. */
const MAX_PINS_BYTES = 1 << 20;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface PolicyText {
  text: Buffer;
  /** The path or URL, for messages. */
  source: string;
  /** `sha256:<hex>` of the text. */
  digest: string;
}

export interface PolicySourceOptions {
  /** `sha256:<hex>` the policy must have (required for a URL unless the trust store pins one). */
  digest?: string;
  home?: string;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function checkDigestSyntax(d: string): string {
  if (!DIGEST.test(d))
    throw new VouchError('USAGE', `--policy-digest ${d.slice(0, 80)}: expected sha256:<64 hex digits>`);
  return d;
}

export function isPolicyUrl(ref: string): boolean {
  return /^https?:\/\//i.test(ref);
}

const pinsFile = (home: string) => join(paths.trust(home), 'policies.json');
const cacheDir = (home: string) => join(home, 'policies');

function readPins(home: string): Record<string, string> {
  const f = pinsFile(home);
  if (!existsSync(f)) return {};
  const doc = asObject(
    parseStrictJson(readCappedSync(f, { maxBytes: MAX_PINS_BYTES, code: 'CONFIG_INVALID' }).toString('utf8'), {
      code: 'CONFIG_INVALID',
      what: f,
    }),
    f,
    'CONFIG_INVALID',
  );
  const out: Record<string, string> = {};
  for (const [url, d] of Object.entries(doc)) if (typeof d === 'string' && DIGEST.test(d)) out[url] = d;
  return out;
}

/** Read a policy: a file as it is, a URL from the cache or fetched once, checked against the digest it must have. */
export async function readPolicySource(ref: string, o: PolicySourceOptions = {}): Promise<PolicyText> {
  const wanted = o.digest === undefined ? undefined : checkDigestSyntax(o.digest);
  if (!isPolicyUrl(ref)) {
    // Capped while reading: `--policy <(curl ...)` or a FIFO has no size to check first.
    const text = await readCapped(ref, { maxBytes: MAX_POLICY_BYTES, code: 'POLICY_INVALID', what: `policy ${ref}` });
    const digest = sha256(text);
    if (wanted && wanted !== digest) {
      throw new VouchError('POLICY_DIGEST_MISMATCH', `${ref} has digest ${digest}, not ${wanted}`);
    }
    return { text, source: ref, digest };
  }
  const home = o.home ?? vouchHome();
  const digest = wanted ?? readPins(home)[ref];
  if (!digest) {
    throw new VouchError(
      'USAGE',
      `a policy URL needs the digest of the policy you expect: --policy-digest sha256:...`,
      {
        hint: 'Ask the publisher for it (or run `vouch policy pin URL --policy-digest sha256:...` once).',
      },
    );
  }
  const cached = join(cacheDir(home), digest.slice('sha256:'.length));
  if (existsSync(cached)) {
    const text = await readCapped(cached, { maxBytes: MAX_POLICY_BYTES, code: 'POLICY_INVALID' });
    // A cache file that no longer has its name's digest is ignored and fetched again.
    if (sha256(text) === digest) return { text, source: ref, digest };
  }
  const text = await fetchPolicy(ref);
  const got = sha256(text);
  if (got !== digest) {
    throw new VouchError('POLICY_DIGEST_MISMATCH', `${ref} served a policy with digest ${got}, not ${digest}`);
  }
  mkdirSync(cacheDir(home), { recursive: true, mode: 0o700 });
  writeFileAtomic(cached, text, { mode: 0o600 });
  return { text, source: ref, digest };
}

/** Pin a policy URL to a digest in the trust store (fetching it once to check), for verifications without the flag. */
export async function pinPolicy(url: string, digest: string, home = vouchHome()): Promise<PolicyText> {
  if (!isPolicyUrl(url)) throw new VouchError('USAGE', 'policy pin takes an https:// URL');
  const p = await readPolicySource(url, { digest: checkDigestSyntax(digest), home });
  const pins = readPins(home);
  pins[url] = digest;
  mkdirSync(paths.trust(home), { recursive: true, mode: 0o700 });
  writeFileAtomic(pinsFile(home), `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600 });
  return p;
}

/**
 * The one place a policy is fetched. HTTPS only (plain HTTP on loopback, for tests): the digest proves the content,
 * but a customer's verification should not hand its network position to anyone on the path either.
 */
async function fetchPolicy(url: string): Promise<Buffer> {
  const u = new URL(url);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u))) {
    throw new VouchError('USAGE', `${url}: policies are fetched over https only`);
  }
  const r = await httpRequest(url, 'the policy server', {
    maxBytes: MAX_POLICY_BYTES,
    tooLarge: () => new VouchError('POLICY_INVALID', `${url}: the policy is larger than ${MAX_POLICY_BYTES} bytes`),
  });
  return r.body;
}
