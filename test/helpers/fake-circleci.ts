/**
 * CircleCI: a `circleci` executable on PATH that answers `circleci run oidc get --claims '{"aud":...}'` with a JWT
 * on stdout, as the real CLI does inside a job. It gets the token from the fake issuer (which holds the key), so the
 * token is signed for the audience asked, with the claims CircleCI documents ("OpenID Connect tokens": the
 * `oidc.circleci.com/` ids of the org, project, pipeline definition, pipeline, workflow and job, the VCS origin and
 * ref, ssh-rerun, context ids). `fail` makes it exit 1 with the CLI's message for jobs without tokens.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export interface FakeCircleCi extends FakeIssuer {
  /** CIRCLECI=true and PATH with the fake CLI first. */
  env: Record<string, string>;
}

export const CIRCLECI_ORG = '4a4b5c6d-0000-4000-8000-000000000001';

export async function startCircleCi(options: { fail?: boolean } = {}): Promise<FakeCircleCi> {
  const fake = (await startIssuer({
    issuerPath: `/org/${CIRCLECI_ORG}`,
    routes: [
      async (req, res) => {
        if (req.url.pathname !== '/mint') return false;
        const aud = req.url.searchParams.get('aud') ?? CIRCLECI_ORG;
        return json(res, 200, {
          token: await fake.mint({
            aud,
            sub: `org/${CIRCLECI_ORG}/project/5e6f/user/7a8b`,
            'oidc.circleci.com/org-id': CIRCLECI_ORG,
            'oidc.circleci.com/project-id': '5e6f',
            'oidc.circleci.com/pipeline-definition-id': '3a4b',
            'oidc.circleci.com/pipeline-id': '9c0d',
            'oidc.circleci.com/workflow-id': '6c7d',
            'oidc.circleci.com/job-id': '1e2f',
            'oidc.circleci.com/vcs-origin': 'github.com/acme/app',
            'oidc.circleci.com/vcs-ref': 'refs/heads/main',
            'oidc.circleci.com/ssh-rerun': false,
            'oidc.circleci.com/context-ids': ['8e9f'],
          }),
        });
      },
    ],
  })) as FakeCircleCi;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-fake-circleci-'));
  const script = join(dir, 'circleci');
  writeFileSync(
    script,
    `#!${process.execPath}
const a = process.argv.slice(2);
if (${Boolean(options.fail)}) { process.stderr.write('Error: failed to get OIDC token: not available in this job\\n'); process.exit(1); }
if (a[0] !== 'run' || a[1] !== 'oidc' || a[2] !== 'get' || a[3] !== '--claims') { process.stderr.write('bad usage\\n'); process.exit(2); }
const aud = JSON.parse(a[4]).aud;
fetch(${JSON.stringify(fake.base)} + '/mint?aud=' + encodeURIComponent(aud)).then(r => r.json()).then(b => process.stdout.write(b.token + '\\n'));
`,
  );
  chmodSync(script, 0o755);
  fake.env = { CIRCLECI: 'true', PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` };
  const close = fake.close;
  fake.close = async () => {
    rmSync(dir, { recursive: true, force: true });
    await close();
  };
  return fake;
}
