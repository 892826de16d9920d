/**
 * AWS STS, Query protocol: POST / with a SigV4-signed form `Action=GetWebIdentityToken&Version=2011-06-15&
 * Audience.member.1=...&SigningAlgorithm=ES384|RS256&DurationSeconds=N` answers the XML
 * GetWebIdentityTokenResponse; errors are `<ErrorResponse><Error><Code>`. The fake checks the request carries a
 * SigV4 Authorization header for service sts (it does not recompute the signature). The issuer stands in for
 * https://<id>.tokens.sts.global.api.aws (JWKS at /.well-known/jwks.json); tokens carry the principal ARN in `sub`
 * and the AWS claims under "https://sts.amazonaws.com/".
 */
import { type FakeIssuer, startIssuer } from './fake-issuer.ts';

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/ReleaseSigner';

export interface FakeAwsSts extends FakeIssuer {
  /** The workload's environment: dummy keys, region, AWS_ENDPOINT_URL_STS, AWS_EXECUTION_ENV. */
  env: Record<string, string>;
  /** When set, STS answers this error code (e.g. OutboundWebIdentityFederationDisabledException). */
  failWith?: string;
  /** Forms received. */
  forms: URLSearchParams[];
}

export async function startAwsSts(): Promise<FakeAwsSts> {
  const xml = (status: number, body: string) => (res: import('node:http').ServerResponse) => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-1' }).end(body);
    return true as const;
  };
  const fake = (await startIssuer({
    alg: 'ES384',
    routes: [
      async (req, res) => {
        if (req.method !== 'POST' || req.url.pathname !== '/') return false;
        const form = new URLSearchParams(req.body);
        fake.forms.push(form);
        const auth = String(req.headers.authorization ?? '');
        if (
          !/^AWS4-HMAC-SHA256 Credential=AKIDFAKE\/\d{8}\/[a-z0-9-]+\/sts\/aws4_request, SignedHeaders=.+, Signature=[0-9a-f]{64}$/.test(
            auth,
          )
        ) {
          return xml(
            403,
            error('Sender', 'IncompleteSignature', 'Request must contain a signature that conforms to AWS standards'),
          )(res);
        }
        if (form.get('Action') !== 'GetWebIdentityToken' || form.get('Version') !== '2011-06-15') {
          return xml(400, error('Sender', 'InvalidAction', 'Could not find operation'))(res);
        }
        if (fake.failWith)
          return xml(
            403,
            error('Sender', fake.failWith, 'Outbound web identity federation is disabled for this account'),
          )(res);
        const alg = form.get('SigningAlgorithm');
        if (alg !== 'ES384' && alg !== 'RS256') {
          return xml(400, error('Sender', 'ValidationError', 'SigningAlgorithm must be ES384 or RS256'))(res);
        }
        const audiences = [...form.entries()].filter(([k]) => /^Audience\.member\.\d+$/.test(k)).map(([, v]) => v);
        const duration = Number(form.get('DurationSeconds') ?? 300);
        const token = await fake.mint(
          {
            aud: audiences.length === 1 ? audiences[0] : audiences,
            sub: ROLE_ARN,
            'https://sts.amazonaws.com/': {
              aws_account: '123456789012',
              source_region: 'eu-west-1',
              org_id: 'o-abc123',
              principal_tags: { team: 'release' },
            },
          },
          { expiresIn: duration, alg },
        );
        const expires = new Date(Date.now() + duration * 1000).toISOString();
        return xml(
          200,
          `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetWebIdentityTokenResult><WebIdentityToken>${token}</WebIdentityToken><Expiration>${expires}</Expiration></GetWebIdentityTokenResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>`,
        )(res);
      },
    ],
  })) as FakeAwsSts;
  fake.forms = [];
  fake.env = {
    AWS_ACCESS_KEY_ID: 'AKIDFAKE',
    AWS_SECRET_ACCESS_KEY: 'fake-secret',
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_STS: fake.base,
    AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
  };
  return fake;
}

function error(type: string, code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`;
}
