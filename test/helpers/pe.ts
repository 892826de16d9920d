/**
 * Real PE files for the tests, made at test time: tiny programs assembled and linked by binutils (`as`, and `ld`'s
 * i386pep / i386pe emulations, in Debian's native binutils), signed by osslsigncode under a throwaway CA made by
 * openssl, timestamped over RFC 3161 HTTP (RFC 3161 §3.4) by `openssl ts -reply` behind a small server on
 * 127.0.0.1 (osslsigncode's `-ts URL`, the one timestamping option of every Debian version of it). Then tampered
 * the ways the 3CX attack and its relatives do. No binary is checked in.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';

const execFileAsync = promisify(execFile);

export function havePeTools(): string | undefined {
  for (const tool of ['as', 'ld', 'openssl', 'osslsigncode']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (bash .ci/services.sh installs it)`;
  }
  return undefined;
}

const PROGRAM = `
.text
.globl _start
_start:
  mov $42, %eax
  ret
.data
message: .ascii "vouch authenticode test"
`;

const EXTENSIONS = `
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[signer]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=codeSigning
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[tsa]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=critical,timeStamping
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
`;

/** openssl ts's TSA configuration (openssl-ts(1), CONFIGURATION FILE OPTIONS). */
const TSA_CONFIG = `
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = tsa.serial
crypto_device = builtin
signer_cert = tsa.pem
certs = ca.pem
signer_key = tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2
digests = sha1, sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`;

export interface PeWorkshop {
  dir: string;
  /** PEM of the throwaway root CA (the `--authenticode-roots` bundle). */
  caPem: string;
  /** A second, unrelated CA: a signer does not chain to it. */
  otherCaPem: string;
  /** Link a PE32+ (x86-64) or PE32 (i386) image, `fill` more bytes of data in it; returns its path. */
  build(name: string, format?: 'PE32+' | 'PE32', fill?: number): string;
  /**
   * Sign with osslsigncode (RSA signer, SHA-256) and an RFC 3161 timestamp, or the legacy Authenticode one (a
   * countersignature); `extra` adds osslsigncode options.
   */
  sign(input: string, output: string, extra?: string[], timestamp?: 'rfc3161' | 'legacy'): Promise<string>;
  /** osslsigncode verify against the throwaway CA: exit status and output. */
  ossVerify(path: string): { status: number; output: string };
  cleanup(): Promise<void>;
}

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * The throwaway timestamp authority, one query at a time: RFC 3161 queries (POST `/`, application/timestamp-query)
 * answered by `openssl ts -reply`; legacy Authenticode timestamp requests (POST `/authenticode`: base64 of a
 * TimeStampRequest whose ContentInfo holds the signature value) answered with the base64 of a CMS SignedData over
 * that value by `openssl cms -sign`, whose SignerInfo osslsigncode embeds as a PKCS#9 countersignature.
 */
async function startTsa(dir: string) {
  writeFileSync(join(dir, 'ts.cnf'), TSA_CONFIG);
  writeFileSync(join(dir, 'tsa.serial'), '01\n');
  const openssl = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  const answer = async (path: string, type: string | undefined, body: Buffer): Promise<[string, Buffer]> => {
    if (path === '/' && type === 'application/timestamp-query') {
      writeFileSync(join(dir, 'query.tsq'), body);
      await openssl(['ts', '-reply', '-config', 'ts.cnf', '-queryfile', 'query.tsq', '-out', 'reply.tsr']);
      return ['application/timestamp-reply', readFileSync(join(dir, 'reply.tsr'))];
    }
    if (path === '/authenticode') {
      const request = asn1js.fromBER(new Uint8Array(Buffer.from(body.toString('latin1'), 'base64')));
      const contentInfo = (request.result as asn1js.Sequence).valueBlock.value.at(-1) as asn1js.Sequence;
      const signature = (contentInfo.valueBlock.value[1] as asn1js.Constructed).valueBlock
        .value[0] as asn1js.OctetString;
      writeFileSync(join(dir, 'countersign.bin'), Buffer.from(signature.valueBlock.valueHexView));
      const sign = ['cms', '-sign', '-binary', '-nodetach', '-nosmimecap', '-md', 'sha256', '-outform', 'DER'];
      await openssl([
        ...sign,
        '-in',
        'countersign.bin',
        '-signer',
        'tsa.pem',
        '-inkey',
        'tsa.key',
        '-out',
        'countersign.p7',
      ]);
      return ['application/octet-stream', Buffer.from(readFileSync(join(dir, 'countersign.p7')).toString('base64'))];
    }
    throw new Error(`no timestamp service at ${path}`);
  };
  let queue = Promise.resolve();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      queue = queue.then(async () => {
        try {
          if (req.method !== 'POST') throw new Error('not a POST');
          const [type, body] = await answer(req.url ?? '', req.headers['content-type'], Buffer.concat(chunks));
          res.writeHead(200, { 'content-type': type });
          res.end(body);
        } catch {
          res.writeHead(400);
          res.end();
        }
      });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

export async function peWorkshop(): Promise<PeWorkshop> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-pe-'));
  writeFileSync(join(dir, 'ext.cnf'), EXTENSIONS);
  const req = (name: string, subject: string, key: string[]) =>
    run(
      'openssl',
      ['req', '-new', '-newkey', ...key, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject],
      dir,
    );
  const ec = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  for (const ca of ['ca', 'other']) {
    run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        ...ec,
        '-nodes',
        '-keyout',
        `${ca}.key`,
        '-out',
        `${ca}.pem`,
        '-subj',
        `/CN=vouch test ${ca} root`,
        '-days',
        '2',
        '-config',
        'ext.cnf',
        '-extensions',
        'ca',
      ],
      dir,
    );
  }
  req('signer', '/CN=vouch test signer', ['rsa:2048']);
  req('tsa', '/CN=vouch test TSA', ec);
  for (const name of ['signer', 'tsa']) {
    run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        'ext.cnf',
        '-extensions',
        name,
      ],
      dir,
    );
  }
  const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  writeFileSync(join(dir, 'signer-chain.pem'), readFileSync(join(dir, 'signer.pem'), 'utf8') + caPem);
  const tsa = await startTsa(dir);
  return {
    dir,
    caPem,
    otherCaPem: readFileSync(join(dir, 'other.pem'), 'utf8'),
    build(name, format = 'PE32+', fill = 0) {
      const obj = `${name}.o`;
      writeFileSync(join(dir, `${name}.s`), fill > 0 ? `${PROGRAM}.fill ${fill}, 1, 0x90\n` : PROGRAM);
      run('as', [format === 'PE32+' ? '--64' : '--32', '-o', obj, `${name}.s`], dir);
      run('ld', ['-m', format === 'PE32+' ? 'i386pep' : 'i386pe', '--entry', '_start', '-o', `${name}.exe`, obj], dir);
      return join(dir, `${name}.exe`);
    },
    async sign(input, output, extra = [], timestamp = 'rfc3161') {
      const ts = timestamp === 'rfc3161' ? ['-ts', `${tsa.url}/`] : ['-t', `${tsa.url}/authenticode`];
      const args = ['sign', '-certs', 'signer-chain.pem', '-key', 'signer.key', '-h', 'sha256', ...ts];
      await execFileAsync('osslsigncode', [...args, ...extra, '-in', input, '-out', output], { cwd: dir });
      return output;
    },
    ossVerify(path) {
      const r = spawnSync('osslsigncode', ['verify', '-CAfile', 'ca.pem', '-TSA-CAfile', 'ca.pem', '-in', path], {
        cwd: dir,
        encoding: 'utf8',
      });
      return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
    },
    async cleanup() {
      await tsa.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Offsets of a PE image's fields the tampering needs (headers trusted: these are our own files). */
function fields(pe: Buffer) {
  const opt = pe.readUInt32LE(0x3c) + 24;
  const plus = pe.readUInt16LE(opt) === 0x20b;
  const entry = opt + (plus ? 112 : 96) + 4 * 8;
  const sections = opt + pe.readUInt16LE(opt - 4);
  return {
    checksum: opt + 64,
    entry,
    tableOffset: pe.readUInt32LE(entry),
    tableSize: pe.readUInt32LE(entry + 4),
    text: { offset: pe.readUInt32LE(sections + 20), size: pe.readUInt32LE(sections + 16) },
  };
}

/** The PE checksum (the imagehlp CheckSumMappedFile algorithm): 16-bit one's-complement-style sum plus the length. */
export function peChecksum(pe: Buffer): number {
  const skip = fields(pe).checksum;
  let sum = 0;
  for (let i = 0; i < pe.length; i += 2) {
    if (i === skip || i === skip + 2) continue;
    sum += i + 1 < pe.length ? pe.readUInt16LE(i) : pe[i]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + pe.length) >>> 0;
}

export function withChecksum(pe: Buffer): Buffer {
  const out = Buffer.from(pe);
  out.writeUInt32LE(peChecksum(out), fields(out).checksum);
  return out;
}

/** The 3CX way: `payload` appended inside the (only) WIN_CERTIFICATE, its dwLength and the directory size grown. */
export function appendInsideSignature(pe: Buffer, payload: Buffer): Buffer {
  const f = fields(pe);
  const end = f.tableOffset + f.tableSize;
  const out = Buffer.concat([pe.subarray(0, end), payload, pe.subarray(end)]);
  out.writeUInt32LE(out.readUInt32LE(f.tableOffset) + payload.length, f.tableOffset);
  out.writeUInt32LE(f.tableSize + payload.length, f.entry + 4);
  return out;
}

/** Data after the table, the directory left as it was (an overlay outside the signature). */
export function appendAfterTable(pe: Buffer, payload: Buffer): Buffer {
  return Buffer.concat([pe, payload]);
}

/** A second WIN_CERTIFICATE entry (revision 2.0, `type`) carrying `payload`, the directory grown to cover it. */
export function appendEntry(pe: Buffer, payload: Buffer, type = 2): Buffer {
  const f = fields(pe);
  const length = 8 + payload.length;
  const entry = Buffer.alloc(Math.ceil(length / 8) * 8);
  entry.writeUInt32LE(length, 0);
  entry.writeUInt16LE(0x0200, 4);
  entry.writeUInt16LE(type, 6);
  payload.copy(entry, 8);
  const out = Buffer.concat([pe, entry]);
  out.writeUInt32LE(f.tableSize + entry.length, f.entry + 4);
  return out;
}

/** One byte of `.text` flipped: the image digest must change. */
export function flipTextByte(pe: Buffer): Buffer {
  const out = Buffer.from(pe);
  const t = fields(out).text;
  out[t.offset + 1] = out[t.offset + 1]! ^ 0xff;
  return out;
}

/** The 3CX marker and an encrypted-looking payload of `n` bytes. */
export function payload(n: number): Buffer {
  const b = Buffer.alloc(n);
  Buffer.from([0xfe, 0xed, 0xfa, 0xce]).copy(b);
  for (let i = 4; i < n; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

export interface PeCase {
  name: string;
  /** What was done to the file, for the table in docs/authenticode.md. */
  what: string;
  path: string;
}

/**
 * The signed file and each tampering of it. Sizes are fixed so the table is the same on every run: a 2,048-byte
 * payload like the 3CX one, and a 13-byte one for the odd-length variant.
 */
export async function peCases(ws: PeWorkshop): Promise<PeCase[]> {
  const out: PeCase[] = [];
  const add = (name: string, what: string, bytes: Buffer) => {
    const path = join(ws.dir, `${name}.exe`);
    writeFileSync(path, bytes);
    out.push({ name, what, path });
  };
  const unsigned = readFileSync(ws.build('program'));
  add('unsigned', 'PE32+ as linked, not signed', unsigned);
  const signedPath = await ws.sign(join(ws.dir, 'program.exe'), join(ws.dir, 'signed.exe'));
  const signed = readFileSync(signedPath);
  out.push({ name: 'signed', what: 'signed by osslsigncode (SHA-256, RFC 3161 timestamp)', path: signedPath });
  const pe32 = await ws.sign(ws.build('program32', 'PE32'), join(ws.dir, 'signed-pe32.exe'));
  out.push({ name: 'signed-pe32', what: 'a PE32 (i386) image, signed the same way', path: pe32 });
  const legacy = await ws.sign(join(ws.dir, 'program.exe'), join(ws.dir, 'legacy.exe'), [], 'legacy');
  out.push({
    name: 'legacy-timestamp',
    what: 'signed with a legacy Authenticode timestamp (countersignature)',
    path: legacy,
  });
  add(
    '3cx',
    '2,048 bytes (`FE ED FA CE`...) appended inside the WIN_CERTIFICATE, entry length and directory size grown',
    appendInsideSignature(signed, payload(2048)),
  );
  add('3cx-checksum', 'the same, PE checksum recomputed', withChecksum(appendInsideSignature(signed, payload(2048))));
  add(
    '3cx-odd',
    '13 bytes appended the same way (odd length: entry and table no longer 8-byte multiples)',
    appendInsideSignature(signed, payload(13)),
  );
  add(
    'after-table',
    '2,048 bytes appended after the certificate table, directory unchanged',
    appendAfterTable(signed, payload(2048)),
  );
  add(
    'extra-entry',
    'a second WIN_CERTIFICATE entry (PKCS_SIGNED_DATA) carrying 2,048 bytes, directory grown',
    withChecksum(appendEntry(signed, payload(2048))),
  );
  add('text-flip', 'one byte of `.text` flipped', flipTextByte(signed));
  const nested = await ws.sign(signedPath, join(ws.dir, 'nested.exe'), ['-nest']);
  out.push({ name: 'nested', what: 'a second signature nested in the first (osslsigncode -nest)', path: nested });
  const blob = await ws.sign(join(ws.dir, 'program.exe'), join(ws.dir, 'blob.exe'), ['-addUnauthenticatedBlob']);
  out.push({
    name: 'unauthenticated-blob',
    what: 'signed with an unauthenticated blob attribute (osslsigncode -addUnauthenticatedBlob)',
    path: blob,
  });
  return out;
}
