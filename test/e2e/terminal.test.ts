/**
 * Nothing an attacker names reaches the terminal raw: file names, signer identities and issuers, error messages,
 * on success paths too (issue 10, item 11). Each hostile string goes through the built CLI; the human output must
 * hold no C0/C1 control, DEL or bidirectional override (only the line feeds between lines), and show each of them
 * as a visible escape. `--json` stays exact JSON: the same strings come back when parsed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jsonSafe, terminalSafe } from '../../src/cli/terminal.ts';
import { errorCode, REPO, tempDir, vouch } from '../helpers/cli.ts';
import { type Instance, makeInstance, sanUri } from '../helpers/fixture-pki.ts';

/** Anything a terminal could act on, except the line feeds that separate our own lines. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

function assertTerminalSafe(text: string, what: string): void {
  const m = RAW.exec(text);
  assert.equal(
    m,
    null,
    `${what} holds U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')}: ${JSON.stringify(text)}`,
  );
}

describe('the terminal sanitiser', () => {
  const rows: [string, string, string][] = [
    ['ESC (7-bit CSI)', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
    ['8-bit CSI', 'a\u009b2Jb', 'a\\x9b2Jb'],
    ['DEL', 'a\u007fb', 'a\\x7fb'],
    ['NUL, BEL, backspace', '\u0000\u0007\u0008', '\\x00\\x07\\x08'],
    ['carriage return and line feed inside a value', 'ok\r\nNOT', 'ok\\x0d\\x0aNOT'],
    ['tab', 'a\tb', 'a\\x09b'],
    ['right-to-left override', 'exe.\u202etxt', 'exe.\\u202etxt'],
    ['every embedding and override', '\u202a\u202b\u202c\u202d', '\\u202a\\u202b\\u202c\\u202d'],
    ['isolates', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['ordinary text in any script stays as it is', 'café 日本 עברית', 'café 日本 עברית'],
  ];
  for (const [name, input, shown] of rows) {
    it(name, () => {
      assert.equal(terminalSafe(input), shown);
      assertTerminalSafe(terminalSafe(input), name);
    });
  }
  it('JSON keeps its value: the same string parses back, with nothing raw left', () => {
    const value = { name: rows.map((r) => r[1]).join('|') };
    const text = jsonSafe(JSON.stringify(value));
    assert.deepEqual(JSON.parse(text), value);
    assertTerminalSafe(text, 'JSON');
  });
});

describe('hostile names and identities through the CLI', () => {
  const tmp = tempDir('vouch-terminal-');
  after(tmp.dispose);
  const at = (p: string) => join(tmp.path, p);
  // A file whose name would clear the screen, switch to 8-bit CSI, reverse the display and fake a second line.
  const hostile = 'rel\u001b[2J\u009b31m\u007f\u202egpj.exe\nVerified OK: evil\t';
  const file = at(hostile);
  let inst: Instance;
  const issuer = 'https://token.example/\u202egro.live\u009b';
  const identity = 'https://github.com/acme/app/\u001b]8;;https://evil\u0007x';

  before(async () => {
    writeFileSync(file, 'release bytes');
    assert.equal(vouch(['keygen', '--out', at('k')]).status, 0);
    inst = await makeInstance();
    writeFileSync(at('root.json'), inst.trustedRootJson);
    writeFileSync(at('artifact'), 'release bytes');
    writeFileSync(
      at('id.sigstore.json'),
      await inst.bundle(Buffer.from('release bytes'), { san: sanUri(identity), issuer }),
    );
  });

  it('sign and verify print the file name escaped, on success', () => {
    const signed = vouch(['sign', file, '--key', at('k.key')]);
    assert.equal(signed.status, 0, signed.stderr);
    assertTerminalSafe(signed.stdout, 'sign output');
    assert.ok(
      signed.stdout.includes('rel\\x1b[2J\\x9b31m\\x7f\\u202egpj.exe\\x0aVerified OK: evil\\x09'),
      signed.stdout,
    );
    const verified = vouch(['verify', file, '--key', at('k.pub')]);
    assert.equal(verified.status, 0, verified.stderr);
    assertTerminalSafe(verified.stdout, 'verify output');
    assert.equal(verified.stdout.split('\n').filter((l) => l.startsWith('Verified OK')).length, 1);
  });

  it('--json is exact JSON: the name comes back as it is, nothing raw on the terminal', () => {
    const r = vouch(['verify', file, '--key', at('k.pub'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    assertTerminalSafe(r.stdout.replaceAll('\n', ''), 'JSON output');
    assert.equal((r.json() as { target: string }).target, `file:${file}`);
  });

  it('an error naming the file is escaped too', () => {
    const r = vouch(['verify', `${file}.missing`, '--key', at('k.pub'), '--bundle', `${file}.sigstore.json`]);
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'FILE_NOT_FOUND');
    assertTerminalSafe(r.stderr, 'error output');
    assert.ok(r.stderr.includes('\\u202egpj.exe'), r.stderr);
  });

  it("a certificate's identity and issuer are escaped when verified, and when they do not match", () => {
    const verifyAs = (who: string, ...more: string[]) =>
      vouch([
        'verify',
        at('artifact'),
        '--bundle',
        at('id.sigstore.json'),
        '--trusted-root',
        at('root.json'),
        '--certificate-identity',
        who,
        '--certificate-oidc-issuer',
        issuer,
        ...more,
      ]);
    const ok = verifyAs(identity);
    assert.equal(ok.status, 0, ok.stderr);
    assertTerminalSafe(ok.stdout, 'verify output');
    assert.ok(ok.stdout.includes('\\x1b]8;;https://evil\\x07x'), ok.stdout);
    assert.ok(ok.stdout.includes('\\u202egro.live\\x9b'), ok.stdout);
    const json = verifyAs(identity, '--json');
    const signer = (json.json() as { signer: { identity: string; issuer: string } }).signer;
    assert.deepEqual([signer.identity, signer.issuer], [identity, issuer]);
    assertTerminalSafe(json.stdout.replaceAll('\n', ''), 'JSON output');
    const other = verifyAs('https://github.com/acme/app/other');
    assert.equal(other.status, 1);
    assert.equal(errorCode(other.stderr), 'IDENTITY_MISMATCH');
    assertTerminalSafe(other.stderr, 'mismatch error');
  });

  it('a directory difference naming a hostile file is escaped', () => {
    mkdirSync(at('tree'));
    writeFileSync(at('tree/a.txt'), 'a');
    const signed = vouch(['sign', `dir:${at('tree')}`, '--key', at('k.key')]);
    assert.equal(signed.status, 0, signed.stderr);
    writeFileSync(join(at('tree'), hostile), 'added after signing');
    const r = vouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub')]);
    assert.equal(r.status, 1);
    assert.equal(errorCode(r.stderr), 'DIRECTORY_MISMATCH');
    assertTerminalSafe(r.stderr, 'difference list');
    assert.ok(r.stderr.includes('u202egpj.exe'), r.stderr);
  });

  it('a usage error quoting a hostile flag is escaped', () => {
    const r = vouch(['verify', file, '--\u001b[31mred\u202e']);
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'USAGE');
    assertTerminalSafe(r.stderr, 'usage error');
  });

  it('--version is the version in package.json', async () => {
    const pkg = (await import(join(REPO, 'package.json'), { with: { type: 'json' } })).default as { version: string };
    assert.equal(vouch(['--version']).stdout.trim(), pkg.version);
  });
});
