/**
 * `vouch completion bash|zsh|fish` and docs/cli.md, both generated from the command declarations: each script
 * parses in its shell, completes commands, flags and flag choices when driven the way the shell drives it, and
 * names every flag of every command; docs/cli.md is what the declarations render to now.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliSpec } from '../../src/cli/main.ts';
import { cliReference } from '../../src/cli/reference.ts';
import { allCommands } from '../../src/cli/spec.ts';
import { errorCode, REPO, tempDir, vouch } from '../helpers/cli.ts';

const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

describe('vouch completion', () => {
  const tmp = tempDir('vouch-completion-');
  const scripts: Record<string, string> = {};
  after(tmp.dispose);

  before(() => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = vouch(['completion', shell]);
      assert.equal(r.status, 0, r.stderr);
      scripts[shell] = r.stdout;
      writeFileSync(join(tmp.path, `vouch.${shell}`), r.stdout);
    }
  });

  it('refuses a shell it has no script for', () => {
    const r = vouch(['completion', 'powershell']);
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'USAGE');
  });

  it('names every flag of every command in every script', () => {
    for (const c of allCommands(cliSpec())) {
      for (const o of c.options) {
        for (const shell of ['bash', 'zsh', 'fish']) {
          const word = shell === 'fish' ? `-l ${o.long.slice(2)}` : o.long;
          assert.ok(scripts[shell]!.includes(word), `${shell}: ${c.path.join(' ')} ${o.long}`);
        }
      }
    }
  });

  /** What bash offers for the words typed so far (the last one being completed). */
  function bashComplete(words: string[]): string[] {
    const script = join(tmp.path, 'vouch.bash');
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const r = spawnSync(
      'bash',
      [
        '-c',
        `source '${script}'; COMP_WORDS=(vouch ${quoted}); COMP_CWORD=${words.length}; _vouch; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { cwd: tmp.path, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  it('bash: commands, subcommands, flags, choices, and flag values skipped', () => {
    assert.ok(has('bash'));
    const top = bashComplete(['']);
    for (const c of ['sign', 'verify', 'inspect', 'trust', 'completion']) assert.ok(top.includes(c), c);
    assert.deepEqual(bashComplete(['trust', '']), ['export', 'import', 'show']);
    assert.deepEqual(bashComplete(['verify', '--certificate-identity']), [
      '--certificate-identity',
      '--certificate-identity-regexp',
    ]);
    assert.deepEqual(bashComplete(['keygen', '--type', '']), ['ecdsa-p256', 'ed25519']);
    assert.deepEqual(bashComplete(['completion', '']), ['bash', 'fish', 'zsh']);
    // `--key` takes a value: `trust` after it is that value, not the command.
    assert.deepEqual(bashComplete(['sign', '--key', 'trust', '--rec']), ['--recursive']);
    assert.deepEqual(bashComplete(['trust', 'import', '--na']), ['--name']);
  });

  it('zsh: the script parses', { skip: !has('zsh') }, () => {
    const r = spawnSync('zsh', ['-n', join(tmp.path, 'vouch.zsh')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('fish: the script parses and completes flags and choices', { skip: !has('fish') }, () => {
    const script = join(tmp.path, 'vouch.fish');
    const complete = (line: string) => {
      const r = spawnSync('fish', ['--no-config', '-c', `source '${script}'; complete -C '${line}'`], {
        encoding: 'utf8',
        env: { ...process.env, HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, XDG_DATA_HOME: tmp.path },
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!)
        .sort();
    };
    assert.deepEqual(complete('vouch trust '), ['export', 'import', 'show']);
    assert.deepEqual(complete('vouch verify --certificate-identity'), [
      '--certificate-identity',
      '--certificate-identity-regexp',
    ]);
    assert.deepEqual(complete('vouch keygen --type '), ['ecdsa-p256', 'ed25519']);
    assert.deepEqual(complete('vouch completion '), ['bash', 'fish', 'zsh']);
  });
});

it('docs/cli.md is the reference the command declarations render to (node scripts/docs-cli.ts)', () => {
  assert.equal(readFileSync(join(REPO, 'docs', 'cli.md'), 'utf8'), cliReference(cliSpec()));
});
