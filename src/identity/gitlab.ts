/**
 * GitLab CI: a job declares `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }` and GitLab puts the token in that
 * variable when the job starts (GitLab docs, "OpenID Connect (OIDC) Authentication Using ID Tokens"). There is no
 * endpoint to ask later, so a job without the declaration has no token at all. `SIGSTORE_ID_TOKEN` itself is read
 * first by the selection as an explicit token (it is reported as `gitlab` there); this provider only runs, and fails
 * fast, when it is missing. Following `id` (sigstore-python), `<AUD>_ID_TOKEN` is read for another audience.
 */
import { type AmbientProvider, checkTokenText, tokenUnavailable, truthy } from './provider.ts';

export const gitlab: AmbientProvider = {
  name: 'gitlab',
  ci: true,
  detect: (ctx) => truthy(ctx.env.GITLAB_CI),
  async getToken(ctx) {
    const variable = `${ctx.audience.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_ID_TOKEN`;
    const value = ctx.env[variable];
    if (!value) {
      throw tokenUnavailable(
        'GitLab CI',
        `the job has no ${variable}`,
        `Declare it in the job: \`id_tokens: { ${variable}: { aud: ${ctx.audience} } }\` in .gitlab-ci.yml.`,
      );
    }
    return checkTokenText(value, `GitLab CI (${variable})`);
  },
};
