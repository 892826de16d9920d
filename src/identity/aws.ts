/**
 * AWS: STS GetWebIdentityToken (IAM outbound identity federation, AWS STS API reference) mints a JWT for the calling
 * principal, signed by the account's issuer `https://<id>.tokens.sts.global.api.aws` (the principal ARN in `sub`, the
 * account, org and tags under `https://sts.amazonaws.com/`). The call needs AWS credentials, taken from the standard
 * chain (environment, SSO and shared profiles, web identity / IRSA, ECS and EKS Pod Identity, EC2 IMDS) and signed
 * with SigV4: both are the AWS SDK's (@aws-sdk/credential-providers, @aws-sdk/client-sts), never hand-written. The API
 * is served on regional endpoints only, so a region is required (AWS_REGION, or the profile's); AWS_ENDPOINT_URL_STS
 * and AWS_ENDPOINT_URL move the endpoint as for every SDK. The signing algorithm is ES384 unless
 * VOUCH_AWS_SIGNING_ALGORITHM says RS256.
 *
 * Detected on AWS compute only (Lambda, ECS, CodeBuild, EKS Pod Identity or IRSA, EC2): credentials on a laptop are
 * not a sign that the person wants to sign as their role; `--identity-provider aws` asks for that.
 */
import { deadlineIn, request, withinDeadline } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { type AmbientProvider, checkTokenText, type ProviderContext, tokenUnavailable } from './provider.ts';

const ALGORITHMS = ['ES384', 'RS256'] as const;
const DURATION_S = 300;

function onAws(ctx: ProviderContext): boolean {
  const e = ctx.env;
  if (e.AWS_EXECUTION_ENV || e.AWS_LAMBDA_FUNCTION_NAME || e.CODEBUILD_BUILD_ID) return true;
  if (e.AWS_CONTAINER_CREDENTIALS_FULL_URI || e.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) return true;
  if (e.AWS_ROLE_ARN && e.AWS_WEB_IDENTITY_TOKEN_FILE) return true;
  // EC2 (Nitro and Xen): the DMI vendor, or an instance id as the board asset tag.
  const vendor = ctx.readFile('/sys/class/dmi/id/sys_vendor')?.trim();
  const tag = ctx.readFile('/sys/class/dmi/id/board_asset_tag')?.trim();
  return vendor === 'Amazon EC2' || /^i-[0-9a-f]{8,17}$/.test(tag ?? '');
}

export const aws: AmbientProvider = {
  name: 'aws',
  ci: false,
  detect: onAws,
  async getToken(ctx) {
    const algorithm = ctx.env.VOUCH_AWS_SIGNING_ALGORITHM || 'ES384';
    if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new VouchError(
        'USAGE',
        `VOUCH_AWS_SIGNING_ALGORITHM must be ES384 or RS256, not ${algorithm.slice(0, 20)}`,
      );
    }
    const region = ctx.env.AWS_REGION || ctx.env.AWS_DEFAULT_REGION;
    // CommonJS builds (the packages' `main`): module.exports is the namespace's `default` under Node and in the CLI
    // bundle alike (esbuild gives a lazily loaded CommonJS chunk a default export only).
    const [sts, credentials] = await Promise.all([
      import('@aws-sdk/client-sts'),
      import('@aws-sdk/credential-providers'),
    ]);
    const { STSClient, GetWebIdentityTokenCommand } = sts.default;
    const { fromNodeProviderChain } = credentials.default;
    // One deadline for the whole token round: credentials (which may themselves be an STS exchange), the call and
    // the SDK's retries. Every request an SDK client makes goes through core/http under it; the credential sources
    // that open their own sockets (IMDS, the container endpoint) are bounded by `withinDeadline`.
    const deadline = deadlineIn(ctx.timeoutMs);
    const requestHandler = boundedHandler('AWS STS', deadline);
    const client = new STSClient({
      ...(region ? { region } : {}),
      // The nested clients of the chain (web identity, SSO) inherit the caller's handler; `clientConfig` says so
      // explicitly. `timeout` is the per-attempt limit of IMDS and the container endpoint (the SDK's default, 1 s).
      credentials: fromNodeProviderChain({ clientConfig: { requestHandler }, timeout: Math.min(1000, ctx.timeoutMs) }),
      maxAttempts: 3,
      requestHandler,
    });
    try {
      const out = await withinDeadline('AWS STS GetWebIdentityToken', deadline, (abortSignal) =>
        client.send(
          new GetWebIdentityTokenCommand({
            Audience: [ctx.audience],
            SigningAlgorithm: algorithm,
            DurationSeconds: DURATION_S,
          }),
          { abortSignal },
        ),
      );
      return checkTokenText(out.WebIdentityToken, 'AWS STS GetWebIdentityToken');
    } catch (e) {
      throw awsError(e);
    } finally {
      client.destroy();
    }
  },
};

/** What the SDK hands its HTTP handler (Smithy's HttpRequest); only the fields a request needs. */
interface SdkRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * The AWS SDK's HTTP handler (Smithy's `HttpHandler` interface) over core/http: the SDK signs and parses, and each
 * request it sends gets vouch's overall deadline (shared by retries and nested exchanges) and byte cap, where the
 * SDK's own Node handler has only idle timeouts, which a server dripping bytes renews forever.
 */
function boundedHandler(what: string, deadline: number) {
  return {
    async handle(req: SdkRequest, options: { abortSignal?: AbortSignal } = {}) {
      if (req.body !== undefined && typeof req.body !== 'string' && !(req.body instanceof Uint8Array)) {
        throw new VouchError('INTERNAL', `${what}: the SDK sent a streamed body`);
      }
      const port = req.port ? `:${req.port}` : '';
      const res = await request(`${req.protocol}//${req.hostname}${port}${req.path}${queryString(req.query)}`, {
        method: req.method,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        deadline,
        what,
        ...(options.abortSignal ? { signal: options.abortSignal } : {}),
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = [v].flat().join(', ');
      // A Uint8Array body is what the SDK's deserializers collect without a stream collector.
      return { response: { statusCode: res.status, headers, body: new Uint8Array(res.body) } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

/** The query as SigV4 signed it: RFC 3986 percent-encoding (not form encoding, where a space is `+`). */
function queryString(query: SdkRequest['query']): string {
  const rfc3986 = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === null) parts.push(rfc3986(k));
    else for (const one of [v].flat()) parts.push(`${rfc3986(k)}=${rfc3986(one)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function awsError(e: unknown): VouchError {
  if (e instanceof VouchError) return e;
  const err = e as Error & { name?: string; $metadata?: { httpStatusCode?: number }; $fault?: string };
  const message = (err.message ?? String(e)).split('\n')[0]!.slice(0, 200);
  switch (err.name) {
    case 'CredentialsProviderError':
      return tokenUnavailable(
        'AWS',
        `no AWS credentials were found (${message})`,
        'Give the workload a role (instance profile, task role, IRSA or Pod Identity), or set AWS_PROFILE / the AWS_ACCESS_KEY_ID pair.',
      );
    case 'OutboundWebIdentityFederationDisabledException':
      return new VouchError('TOKEN_INVALID', `AWS STS: ${message}`, {
        cause: e,
        hint: 'Turn on outbound identity federation once per account: `aws iam enable-outbound-web-identity-federation`.',
      });
    case 'AccessDenied':
    case 'AccessDeniedException':
      return new VouchError('TOKEN_INVALID', `AWS STS refused GetWebIdentityToken: ${message}`, {
        cause: e,
        hint: 'Allow sts:GetWebIdentityToken to the role (with sts:IdentityTokenAudience = the audience, if conditioned).',
      });
  }
  if (/region is missing/i.test(message)) {
    return new VouchError('TOKEN_INVALID', 'AWS: no region (GetWebIdentityToken is served by regional endpoints)', {
      cause: e,
      hint: 'Set AWS_REGION (or a region in the AWS profile).',
    });
  }
  if (err.$metadata?.httpStatusCode !== undefined) {
    return new VouchError('SERVICE_ERROR', `AWS STS answered HTTP ${err.$metadata.httpStatusCode}: ${message}`, {
      cause: e,
      details: { status: err.$metadata.httpStatusCode, awsError: err.name },
    });
  }
  return new VouchError('SERVICE_UNAVAILABLE', `AWS STS is unreachable: ${message}`, { cause: e });
}
