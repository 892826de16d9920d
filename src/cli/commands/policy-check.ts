/** `vouch policy check POLICY`: the loader's checks (schema with line and field, references, satisfiability). */
import { readPolicySource } from '../../instance/policies.ts';
import { parsePolicy } from '../../policy/load.ts';
import { walkRules } from '../../policy/rules.ts';
import { formatPolicyCheck } from '../format/policy.ts';
import { defineCommand } from '../run.ts';

export interface PolicyCheckResult {
  source: string;
  digest: string;
  signers: { name: string; kind: 'keyless' | 'key' }[];
  rules: number;
  artifacts: number;
  dependencies: boolean;
}

export default defineCommand({
  async run([file]: [string], o: { policyDigest?: string }): Promise<PolicyCheckResult> {
    const p = await readPolicySource(file, o.policyDigest !== undefined ? { digest: o.policyDigest } : {});
    const policy = parsePolicy(p.text, p.source);
    const count = (r: Parameters<typeof walkRules>[0] | undefined) => (r ? walkRules(r).length : 0);
    return {
      source: p.source,
      digest: policy.digest,
      signers: [...policy.signers.values()].map((s) => ({ name: s.name, kind: s.kind })),
      rules:
        count(policy.require) +
        policy.artifacts.reduce((n, a) => n + count(a.require) + a.paths.reduce((m, x) => m + count(x.require), 0), 0),
      artifacts: policy.artifacts.length,
      dependencies: policy.dependencies !== undefined,
    };
  },
  human: formatPolicyCheck,
});
