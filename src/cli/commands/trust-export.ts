/** `vouch trust export NAME`: the stored trusted root, byte for byte as imported. */
import { vouchHome } from '../../instance/home.ts';
import { exportTrustedRoot } from '../../instance/truststore.ts';
import { defineCommand, JsonText } from '../run.ts';

export default defineCommand({
  run: async ([name]: [string]): Promise<string> => exportTrustedRoot(vouchHome(), name),
  human: (document) => new JsonText(document),
});
