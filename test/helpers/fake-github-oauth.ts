/**
 * A fake of GitHub's OAuth app login and the two REST endpoints a login needs, on 127.0.0.1, following GitHub's
 * documentation ("Authorizing OAuth apps"; REST "Get the authenticated user", "List email addresses for the
 * authenticated user"): `GET /login/oauth/authorize` (the person approves at once, or refuses when `deny` is set),
 * `POST /login/oauth/access_token` (form or JSON in, JSON out when asked with `Accept: application/json`; its errors
 * come with status 200 and an `error` member, as GitHub's do), and on the API base `GET /user` and
 * `GET /user/emails` with `Authorization: Bearer` or `token`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility: 'public' | 'private' | null;
}

export class FakeGitHub {
  readonly url: string;
  readonly apiUrl: string;
  readonly clientId = 'Iv1.fakeclient00000';
  readonly clientSecret = 'fake-github-secret';
  user = { login: 'octocat', id: 583231, name: 'The Octocat' };
  emails: GitHubEmail[] = [
    { email: 'octocat-old@example.test', primary: false, verified: true, visibility: null },
    { email: 'octocat@example.test', primary: true, verified: true, visibility: 'public' },
  ];
  /** The person refuses the app at the authorize page. */
  deny = false;
  private readonly codes = new Map<string, { redirectUri: string; challenge?: string }>();
  private readonly tokens = new Set<string>();
  private readonly server: Server;

  private constructor(server: Server, url: string) {
    this.server = server;
    this.url = url;
    this.apiUrl = `${url}/api/v3`;
  }

  static async start(): Promise<FakeGitHub> {
    let fake: FakeGitHub | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeGitHub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && u.pathname === '/login/oauth/authorize') {
      const q = u.searchParams;
      const redirectUri = q.get('redirect_uri');
      if (q.get('client_id') !== this.clientId || !redirectUri) {
        res.writeHead(404).end('Not Found');
        return;
      }
      const back = new URL(redirectUri);
      if (this.deny) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
        back.searchParams.set('error_uri', 'https://docs.github.com/apps/troubleshooting-authorization-request-errors');
      } else {
        const code = randomBytes(10).toString('hex');
        const entry: { redirectUri: string; challenge?: string } = { redirectUri };
        if (q.get('code_challenge_method') === 'S256') entry.challenge = q.get('code_challenge') ?? '';
        this.codes.set(code, entry);
        back.searchParams.set('code', code);
      }
      if (q.get('state') !== null) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method === 'POST' && u.pathname === '/login/oauth/access_token') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      const p = /json/.test(req.headers['content-type'] ?? '')
        ? new URLSearchParams(JSON.parse(text) as Record<string, string>)
        : new URLSearchParams(text);
      const answer = (body: Record<string, string>) => {
        if (/application\/json/.test(req.headers.accept ?? '')) json(200, body);
        else
          res
            .writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
            .end(new URLSearchParams(body).toString());
      };
      if (p.get('client_id') !== this.clientId || p.get('client_secret') !== this.clientSecret) {
        answer({
          error: 'incorrect_client_credentials',
          error_description: 'The client_id and/or client_secret passed are incorrect.',
        });
        return;
      }
      const code = this.codes.get(p.get('code') ?? '');
      this.codes.delete(p.get('code') ?? '');
      const verifier = p.get('code_verifier') ?? '';
      if (
        !code ||
        (code.challenge !== undefined && createHash('sha256').update(verifier).digest('base64url') !== code.challenge)
      ) {
        answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
        return;
      }
      if (p.get('redirect_uri') !== null && p.get('redirect_uri') !== code.redirectUri) {
        answer({
          error: 'redirect_uri_mismatch',
          error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
        });
        return;
      }
      const token = `gho_${randomBytes(18).toString('hex')}`;
      this.tokens.add(token);
      answer({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      return;
    }
    if (req.method === 'GET' && (u.pathname === '/api/v3/user' || u.pathname === '/api/v3/user/emails')) {
      const m = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !this.tokens.has(m[1]!)) {
        json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        return;
      }
      json(200, u.pathname.endsWith('/emails') ? this.emails : this.user);
      return;
    }
    json(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  }
}
