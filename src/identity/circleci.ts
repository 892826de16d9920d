/**
 * CircleCI: `circleci run oidc get --claims '{"aud":"sigstore"}'` prints a token for a custom audience (CircleCI
 * docs, "Using OpenID Connect tokens in jobs"; only `aud` can be customised, and the command works only inside a
 * job). CircleCI documents no HTTP API for this, so the CLI the job image carries is run, with a deadline and a cap
 * on what it prints. The ambient CIRCLE_OIDC_TOKEN(_V2) variables are not used: their audience is the org ID.
 */
import { execFile } from 'node:child_process';
import { VouchError } from '../errors.ts';
import { type AmbientProvider, checkTokenText, tokenUnavailable, truthy } from './provider.ts';

const MAX_OUTPUT = 64 * 1024;

export const circleci: AmbientProvider = {
  name: 'circleci',
  ci: true,
  detect: (ctx) => truthy(ctx.env.CIRCLECI),
  getToken: (ctx) =>
    new Promise<string>((resolve, reject) => {
      const args = ['run', 'oidc', 'get', '--claims', JSON.stringify({ aud: ctx.audience })];
      execFile(
        'circleci',
        args,
        { env: ctx.env, timeout: ctx.timeoutMs, maxBuffer: MAX_OUTPUT, windowsHide: true },
        (error, stdout, stderr) => {
          if (!error) {
            try {
              resolve(checkTokenText(stdout, 'circleci run oidc get'));
            } catch (e) {
              reject(e);
            }
            return;
          }
          const e = error as NodeJS.ErrnoException & { killed?: boolean };
          if (e.code === 'ENOENT') {
            reject(
              tokenUnavailable(
                'CircleCI',
                'the `circleci` CLI is not on PATH',
                'Use an image that carries the CircleCI CLI (cimg/* and the machine executor do), or pass a token with --identity-token-file.',
              ),
            );
          } else if (e.killed) {
            reject(new VouchError('SERVICE_UNAVAILABLE', 'circleci run oidc get did not answer in time', { cause: e }));
          } else {
            const said = String(stderr).trim().split('\n')[0]?.slice(0, 200) ?? '';
            reject(
              tokenUnavailable(
                'CircleCI',
                `\`circleci run oidc get\` failed${said ? `: ${said}` : ''}`,
                'OIDC tokens exist only inside a job, and for forked pull requests only when "Pass secrets to builds from forked pull requests" is on.',
              ),
            );
          }
        },
      );
    }),
};
