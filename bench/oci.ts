/**
 * Sign and verify of an image with 20 layers (1 MiB each) in the local registry, next to a plain `skopeo inspect`
 * of the same image in the same run: wall time (hyperfine) and the requests each tool makes (counted by a proxy in
 * front of the registry), including whether any layer blob is downloaded (verification must not).
 * Run: npm run bench -- oci   (starts the registries with .ci/oci-services.sh when VOUCH_TEST_REGISTRY is unset)
 */
import { execFileSync, execSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEDIA } from '../src/artifact/oci/manifest.ts';
import { RegistryClient } from '../src/artifact/oci/registry.ts';
import { hyperfine, NODE, REPO, table, VOUCH } from './lib.ts';

function registryEnv(): string {
  if (process.env.VOUCH_TEST_REGISTRY) return process.env.VOUCH_TEST_REGISTRY;
  const out = execFileSync('bash', [join(REPO, '.ci', 'oci-services.sh')], { encoding: 'utf8' });
  const m = /VOUCH_TEST_REGISTRY=(\S+)/.exec(out);
  if (!m) throw new Error('oci-services.sh did not report a registry');
  return m[1]!;
}

async function pushImage(client: RegistryClient, repo: string, tag: string, layers: number): Promise<string[]> {
  const blobs = Array.from({ length: layers }, () => randomBytes(1 << 20));
  const descs = [];
  for (const b of blobs) descs.push(await client.pushBlob(repo, b, 'application/vnd.oci.image.layer.v1.tar'));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const cfg = await client.pushBlob(repo, config, MEDIA.ociConfig);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: cfg, layers: descs }),
  );
  await client.putManifest(repo, tag, manifest, MEDIA.ociManifest);
  return descs.map((d) => d.digest);
}

async function run(): Promise<string> {
  const registry = registryEnv();
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-oci-'));
  const env = { ...process.env, VOUCH_PASSWORD: 'bench', HOME: dir };
  const proxyLog = join(dir, 'requests.log');
  writeFileSync(proxyLog, '');
  const proxy = spawn(NODE, [join(REPO, 'bench', 'oci-task.ts'), 'proxy', registry, proxyLog], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const client = new RegistryClient(registry, { credentials: null });
    const repo = `bench/oci${Date.now().toString(36)}`;
    const layers = await pushImage(client, repo, 'verify', 20);
    await pushImage(client, repo, 'sign', 20);
    execSync(`${VOUCH} keygen --out ${join(dir, 'k')}`, { env });
    const key = join(dir, 'k.key');
    const pub = join(dir, 'k.pub');
    execSync(`${VOUCH} sign oci:${registry}/${repo}:verify --key ${key}`, { env });
    const proxied = await new Promise<string>((resolve) =>
      proxy.stdout.once('data', (d: Buffer) => resolve(`127.0.0.1:${d.toString().trim()}`)),
    );

    const task = `${NODE} ${join(REPO, 'bench', 'oci-task.ts')}`;
    const commands = (reg: string) => [
      { name: 'skopeo inspect', cmd: `skopeo inspect --tls-verify=false docker://${reg}/${repo}:verify` },
      { name: 'skopeo inspect --raw', cmd: `skopeo inspect --raw --tls-verify=false docker://${reg}/${repo}:verify` },
      { name: 'vouch sign (CLI)', cmd: `${VOUCH} sign oci:${reg}/${repo}:sign --key ${key}` },
      {
        name: 'vouch verify (library + @sigstore/verify)',
        cmd: `${task} verify ${reg}/${repo}:verify ${pub} ${registry}/${repo}`,
      },
    ];

    // Requests and bytes per tool, through the counting proxy (one run each).
    const counts: string[] = ['| command | requests | layer blobs fetched |', '|---|---|---|'];
    for (const c of commands(proxied)) {
      const before = readFileSync(proxyLog, 'utf8').split('\n').filter(Boolean).length;
      execSync(c.cmd, { env, stdio: 'ignore' });
      const lines = readFileSync(proxyLog, 'utf8').split('\n').filter(Boolean).slice(before);
      const layerHits = lines.filter((l) => layers.some((d) => l.includes(`/blobs/${d}`))).length;
      counts.push(`| ${c.name} | ${lines.length} | ${layerHits} |`);
    }

    const timings = hyperfine([{ name: 'node -e 0', cmd: `${NODE} -e 0` }, ...commands(registry)], {
      runs: 10,
      warmup: 2,
      env,
    });
    // The same operations in one process (no Node start-up, no module loading), median of 10.
    const inproc = JSON.parse(
      execSync(`${task} inproc ${registry}/${repo}:sign ${registry}/${repo}:verify ${key} ${pub} 10`, {
        env,
        encoding: 'utf8',
      }),
    ) as { signMs: number; verifyMs: number };
    return [
      '### Container image (20 layers x 1 MiB, local registry)',
      table(timings, 'skopeo inspect'),
      '',
      `In one process (median of 10, no start-up): sign + attach ${inproc.signMs.toFixed(1)} ms, ` +
        `resolve + find + verify ${inproc.verifyMs.toFixed(1)} ms.`,
      '',
      counts.join('\n'),
      '',
      'vouch verify = resolve the tag, list referrers (tag schema on this registry), fetch the referrer manifest and the',
      'bundle, verify; no layer or config blob is read. The verify row runs the TypeScript sources through Node type',
      'stripping (no bundle), so it includes module loading that the built CLI avoids.',
    ].join('\n');
  } finally {
    proxy.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`${await run()}\n`);
