/**
 * Rules as sets of signer slots. A rule is met when the verified signatures fill every slot of one of its *terms*
 * with a different signer: `allOf: [ci, rm]` has one term {ci, rm}, `threshold: 2, of: [a, b, c]` three ({a, b},
 * {a, c}, {b, c}), and nesting multiplies them out. Filling a term is a bipartite matching of its slots to distinct
 * signers, so "the same identity twice counts once" holds at every level of nesting, not only within one list.
 *
 * The terms depend on the policy alone: they are computed (and capped) when the policy is loaded, so a policy too
 * large to evaluate is refused then, never halfway through a verification.
 */
import { VouchError } from '../errors.ts';
import type { Rule } from './types.ts';

/** At most this many terms per rule: far beyond any real policy (threshold 3 of 10 is 120). */
export const MAX_TERMS = 4096;
/** At most this many slots in one term (signers required together). */
export const MAX_SLOTS = 64;
const MAX_WORK = 100_000;

const cache = new WeakMap<Rule, string[][]>();

/** The terms of `rule`: each a list of signer names (a name twice needs two distinct signers). */
export function termsOf(rule: Rule): string[][] {
  let terms = cache.get(rule);
  if (terms) return terms;
  if (rule.kind === 'signer') terms = [[rule.signer]];
  else {
    const children = rule.of.map(termsOf);
    terms = [];
    const seen = new Set<string>();
    // Combinations are counted as they are made, duplicates included, so a list repeating one signer cannot hide
    // an exponential enumeration behind a small number of distinct terms.
    let work = 0;
    const choose = (start: number, left: number, acc: string[][][]) => {
      if (left === 0) {
        product(acc, 0, []);
        return;
      }
      for (let i = start; i <= children.length - left; i++) choose(i + 1, left - 1, [...acc, children[i]!]);
    };
    const product = (lists: string[][][], i: number, acc: string[]) => {
      if (i === lists.length) {
        if (++work > MAX_WORK) tooLarge(rule, `more than ${MAX_WORK} combinations`);
        const term = [...acc].sort();
        const key = term.join('\0');
        if (seen.has(key)) return;
        if (term.length > MAX_SLOTS) tooLarge(rule, `a term needs ${term.length} signers (at most ${MAX_SLOTS})`);
        seen.add(key);
        terms!.push(term);
        if (terms!.length > MAX_TERMS) tooLarge(rule, `more than ${MAX_TERMS} ways to meet it`);
        return;
      }
      for (const t of lists[i]!) product(lists, i + 1, [...acc, ...t]);
    };
    choose(0, rule.threshold, []);
  }
  cache.set(rule, terms);
  return terms;
}

function tooLarge(rule: Rule, why: string): never {
  throw new VouchError('POLICY_INVALID', `rule ${rule.id} is too large to evaluate: ${why}`);
}

/**
 * Fill the slots of `term` with distinct signers: `candidates(name)` lists the signer keys that meet the named
 * policy signer. Returns the key chosen for each slot, or undefined when no assignment exists (Kuhn's augmenting
 * paths: slots and signers are few, and the answer is exact).
 */
export function fillTerm(term: string[], candidates: (name: string) => readonly string[]): string[] | undefined {
  const owner = new Map<string, number>();
  const assigned: (string | undefined)[] = term.map(() => undefined);
  const tryAssign = (slot: number, visited: Set<string>): boolean => {
    for (const key of candidates(term[slot]!)) {
      if (visited.has(key)) continue;
      visited.add(key);
      const other = owner.get(key);
      if (other === undefined || tryAssign(other, visited)) {
        owner.set(key, slot);
        assigned[slot] = key;
        return true;
      }
    }
    return false;
  };
  for (let slot = 0; slot < term.length; slot++) {
    if (!tryAssign(slot, new Set())) return undefined;
  }
  return assigned as string[];
}

/** Every rule of a tree, parents first. */
export function walkRules(rule: Rule): Rule[] {
  return rule.kind === 'signer' ? [rule] : [rule, ...rule.of.flatMap(walkRules)];
}
