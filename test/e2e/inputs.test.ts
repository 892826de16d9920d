/**
 * Issue 10 item 10: inputs that stat() cannot size. `--bundle /dev/zero`, a FIFO fed without end, `<(...)` or an
 * endless stdin used to be read whole (673 MB of RSS, then a misleading error). Every input read whole goes through
 * the capped reader (src/core/read.ts) and stops at its cap with the input's own code, in little memory.
 *
 * One row per hostile input: the command, the expected code and exit status. The built CLI runs each; its peak RSS
 * (reported by the process itself at exit) must stay far below what reading the input whole would take.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readLocalFile } from '../../src/identity/provider.ts';
import { assetPath } from '../../src/instance/assets.ts';
import { errorCode, tempDir, vouch, vouchAsync } from '../helpers/cli.ts';

/** Far above a CLI run (~70 MB here), far below an input read whole past its cap (hundreds of MB). */
const MAX_RSS_KB = 150 * 1024;

interface Row {
  name: string;
  args: string[];
  code: string;
  status: number;
  /** A FIFO at this name is fed zeros without end while the row runs. */
  fifo?: string;
  /** The arguments are bash words (process substitution), after this bash text (a pipeline into stdin). */
  shell?: string;
  env?: Record<string, string>;
}

describe('inputs are read under a cap, whatever stat() says (hostile inputs through the CLI)', () => {
  const dir = tempDir('vouch-inputs-');
  const at = (p: string) => join(dir.path, p);
  const home = at('home');
  const feeders: ChildProcess[] = [];

  before(() => {
    writeFileSync(at('a.txt'), 'release');
    // Enough of a PE file for `inspect` to read its roots (the roots are read before the image is parsed).
    writeFileSync(at('mz.exe'), Buffer.concat([Buffer.from('MZ'), Buffer.alloc(126)]));
    const k = vouch(['keygen', '--out', at('k')], { env: { VOUCH_HOME: home } });
    assert.equal(k.status, 0, k.stderr);
    const s = vouch(['sign', at('a.txt'), '--key', at('k.key')], { env: { VOUCH_HOME: home } });
    assert.equal(s.status, 0, s.stderr);
    mkdirSync(at('tree'));
    writeFileSync(at('tree/f'), 'x');
    const d = vouch(['sign', `dir:${at('tree')}`, '--key', at('k.key'), '--bundle', at('tree.json')], {
      env: { VOUCH_HOME: home },
    });
    assert.equal(d.status, 0, d.stderr);
    for (const f of ['bundle.fifo', 'key.fifo', 'root.fifo', 'dirbundle.fifo', 'import.fifo', 'token.fifo']) {
      execFileSync('mkfifo', [at(f)]);
    }
    // A regular file whose size is over the cap (sparse: costs no disk).
    writeFileSync(at('huge.json'), '');
    truncateSync(at('huge.json'), 64 << 20);
    // Files vouch reads from its own places, replaced by endless devices.
    const evil = at('evil-home');
    mkdirSync(join(evil, 'trust'), { recursive: true });
    symlinkSync('/dev/zero', join(evil, 'config.json'));
    const store = at('store-home');
    mkdirSync(join(store, 'trust'), { recursive: true });
    symlinkSync('/dev/zero', join(store, 'trust', 'evil.json'));
  });
  after(() => {
    for (const f of feeders) f.kill('SIGKILL');
    dir.dispose();
  });

  const keyed = ['--key', at('k.pub')];
  const keyless = ['--certificate-identity', 'a@example.com', '--certificate-oidc-issuer', 'https://example.com'];
  const bundle = ['--bundle', at('a.txt.sigstore.json')];
  const rows: Row[] = [
    {
      name: 'bundle: /dev/zero',
      args: ['verify', at('a.txt'), ...keyed, '--bundle', '/dev/zero'],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
    },
    {
      name: 'bundle: a FIFO fed without end',
      args: ['verify', at('a.txt'), ...keyed, '--bundle', at('bundle.fifo')],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
      fifo: 'bundle.fifo',
    },
    {
      name: 'bundle: <(cat /dev/zero)',
      args: ['verify', at('a.txt'), ...keyed, '--bundle', '<(cat /dev/zero)'],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
      shell: '',
    },
    {
      name: 'bundle: endless stdin',
      args: ['verify', at('a.txt'), ...keyed, '--bundle', '/dev/stdin'],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
      shell: 'cat /dev/zero |',
    },
    {
      name: 'bundle: a sparse 64 MiB file',
      args: ['verify', at('a.txt'), ...keyed, '--bundle', at('huge.json')],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
    },
    {
      name: 'public key: /dev/zero',
      args: ['verify', at('a.txt'), '--key', '/dev/zero', ...bundle],
      code: 'KEY_INVALID',
      status: 2,
    },
    {
      name: 'public key: a FIFO fed without end',
      args: ['verify', at('a.txt'), '--key', at('key.fifo'), ...bundle],
      code: 'KEY_INVALID',
      status: 2,
      fifo: 'key.fifo',
    },
    {
      name: 'private key: /dev/zero',
      args: ['sign', at('a.txt'), '--key', '/dev/zero', '--bundle', at('out.json')],
      code: 'KEY_INVALID',
      status: 2,
    },
    {
      name: 'trusted root: /dev/zero',
      args: ['verify', at('a.txt'), ...keyless, ...bundle, '--trusted-root', '/dev/zero'],
      code: 'TRUST_ROOT_INVALID',
      status: 2,
    },
    {
      name: 'trusted root: a FIFO fed without end',
      args: ['verify', at('a.txt'), ...keyless, ...bundle, '--trusted-root', at('root.fifo')],
      code: 'TRUST_ROOT_INVALID',
      status: 2,
      fifo: 'root.fifo',
    },
    {
      name: 'trust import: /dev/zero',
      args: ['trust', 'import', '/dev/zero', '--name', 'zero'],
      code: 'TRUST_ROOT_INVALID',
      status: 2,
    },
    {
      name: 'trust import: a FIFO fed without end',
      args: ['trust', 'import', at('import.fifo'), '--name', 'fifo'],
      code: 'TRUST_ROOT_INVALID',
      status: 2,
      fifo: 'import.fifo',
    },
    {
      name: 'trust store: a stored root that is /dev/zero',
      args: ['verify', at('a.txt'), ...keyless, ...bundle],
      code: 'TRUST_ROOT_INVALID',
      status: 2,
      env: { VOUCH_HOME: at('store-home') },
    },
    {
      name: 'config.json: /dev/zero',
      args: ['sign', at('a.txt'), '--bundle', at('k.json')],
      code: 'CONFIG_INVALID',
      status: 2,
      env: { VOUCH_HOME: at('evil-home') },
    },
    {
      name: 'registry CA file: /dev/zero',
      args: ['verify', 'oci:127.0.0.1:1/a/b:c', ...keyless],
      code: 'CONFIG_INVALID',
      status: 2,
      env: { VOUCH_REGISTRY_CA_FILE: '/dev/zero' },
    },
    {
      name: 'identity token file: /dev/zero',
      args: ['sign', at('a.txt'), '--identity-token-file', '/dev/zero', '--bundle', at('t.json')],
      code: 'TOKEN_INVALID',
      status: 2,
    },
    {
      name: 'identity token file: a FIFO fed without end',
      args: ['sign', at('a.txt'), '--identity-token-file', at('token.fifo'), '--bundle', at('t.json')],
      code: 'TOKEN_INVALID',
      status: 2,
      fifo: 'token.fifo',
    },
    {
      name: 'Authenticode roots: /dev/zero',
      args: ['inspect', at('mz.exe'), '--authenticode-roots', '/dev/zero'],
      code: 'USAGE',
      status: 2,
    },
    {
      name: 'directory bundle: a FIFO fed without end (read once, under the ordinary cap)',
      args: ['verify', `dir:${at('tree')}`, ...keyed, '--bundle', at('dirbundle.fifo')],
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
      fifo: 'dirbundle.fifo',
    },
    {
      name: 'directory manifest: /dev/zero beside a signature that embeds its manifest',
      args: ['verify', `dir:${at('tree')}`, ...keyed, '--bundle', at('tree.json'), '--manifest', '/dev/zero'],
      code: 'MANIFEST_INVALID',
      status: 1,
    },
  ];

  for (const row of rows) {
    it(row.name, { timeout: 60_000 }, async () => {
      let feeder: ChildProcess | undefined;
      if (row.fifo) {
        // `cat` blocks until vouch opens the FIFO, then writes until vouch closes it (SIGPIPE) or is killed.
        feeder = spawn('sh', ['-c', 'exec cat /dev/zero > "$0"', at(row.fifo)], { stdio: 'ignore' });
        feeders.push(feeder);
      }
      const r = await vouchAsync(row.args, {
        env: { VOUCH_HOME: home, SIGSTORE_ID_TOKEN: '', ...row.env },
        ...(row.shell !== undefined ? { shell: row.shell } : {}),
      });
      feeder?.kill('SIGKILL');
      assert.equal(errorCode(r.stderr), row.code, r.stderr);
      assert.equal(r.status, row.status, r.stderr);
      assert.ok(r.maxRssKb !== undefined, 'the CLI reported its peak RSS');
      assert.ok(r.maxRssKb < MAX_RSS_KB, `peak RSS ${Math.round(r.maxRssKb / 1024)} MB`);
    });
  }

  it("a platform's token file (projected service account, federated token) that is /dev/zero is no token", () => {
    assert.equal(readLocalFile('/dev/zero'), undefined);
    assert.equal(readLocalFile(at('a.txt')), 'release');
  });

  it('the shipped trusted root still loads through the same reader (the cap is not too tight)', () => {
    const r = vouch(
      ['verify', at('a.txt'), ...keyless, ...bundle, '--trusted-root', assetPath('public-good.trusted_root.json')],
      {
        env: { VOUCH_HOME: home },
      },
    );
    // Not a reading error: the bundle is a key-pair bundle, which a keyless policy refuses on its merits.
    assert.notEqual(errorCode(r.stderr), 'TRUST_ROOT_INVALID', r.stderr);
    assert.equal(r.status, 1, r.stderr);
  });
});
