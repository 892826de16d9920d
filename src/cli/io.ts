/** Terminal I/O for the CLI only: passphrase prompts and the progress bar. The library never prints. */
import { thousands } from '../core/encoding.ts';
import { VouchError } from '../errors.ts';

/** The passphrase from VOUCH_PASSWORD, else a prompt on the terminal (no echo), else a usage error. */
export async function getPassphrase(prompt: string, confirm = false): Promise<string> {
  const env = process.env.VOUCH_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new VouchError('PASSPHRASE_INVALID', 'no passphrase: set VOUCH_PASSWORD or run on a terminal');
  }
  const first = await readHidden(prompt);
  if (confirm && (await readHidden('Repeat passphrase: ')) !== first) {
    throw new VouchError('PASSPHRASE_INVALID', 'the passphrases do not match');
  }
  return first;
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new VouchError('USAGE', 'cancelled'));
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Progress of a directory: files hashed, then (verify) signed entries checked against the walk. */
export type ProgressFn = (p: { filesDone: number; filesTotal: number; phase?: 'hashing' | 'checking' }) => void;

/**
 * A one-line progress bar on stderr for long directory walks: drawn at most every 100 ms, only after the first
 * second (short runs stay quiet), erased when each phase is done (hashing, then for verify checking).
 */
export function progressBar(label = 'hashing', unit = 'files'): ProgressFn {
  const start = Date.now();
  let last = 0;
  let drawn = false;
  let current = label;
  let phaseStart = start;
  return ({ filesDone, filesTotal, phase }) => {
    const now = Date.now();
    if ((phase ?? label) !== current) {
      current = phase ?? label;
      phaseStart = now;
    }
    const finished = filesDone >= filesTotal;
    if (finished) {
      if (drawn) process.stderr.write('\r\x1b[2K');
      return;
    }
    if (now - start < 1000 || now - last < 100) return;
    last = now;
    drawn = true;
    const width = 30;
    const fill = filesTotal > 0 ? Math.round((filesDone / filesTotal) * width) : 0;
    const rate = Math.round(filesDone / (Math.max(now - phaseStart, 1) / 1000));
    process.stderr.write(
      `\r\x1b[2K${current} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${thousands(filesDone)}/${thousands(filesTotal)} ${phase === 'checking' ? 'entries' : unit}, ${thousands(rate)}/s`,
    );
  };
}

/**
 * A yes/no question on the terminal (stderr, one line read from stdin); only "y" or "yes" is a yes. Callers ask only
 * when a person is at a terminal (CommandContext.interactive) and refuse otherwise.
 */
export async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  try {
    process.stderr.write(`${question} [y/N] `);
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
