/** `vouch completion bash|zsh|fish`: the shell completion script, generated from the command declarations. */
import { completionScript, type Shell } from '../completion.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  async run([shell]: [Shell]): Promise<string[]> {
    // The declarations live in main.ts, already loaded: this import only reaches them.
    const { cliSpec } = await import('../main.ts');
    return completionScript(shell, cliSpec());
  },
  human: (lines) => lines,
});
