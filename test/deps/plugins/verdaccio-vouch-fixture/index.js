// A verdaccio middleware plugin (verdaccio.org/docs/plugin-middleware) that adds the two npm registry routes
// verdaccio lacks, answered from files a test writes: `/-/npm/v1/keys` (keys.json) and
// `/-/npm/v1/attestations/<name>@<version>` (attestations/<encodeURIComponent(spec)>.json). A missing file is a 404,
// as npm's registry answers for a version without attestations (and mirrors for keys).

const fs = require('node:fs');
const path = require('node:path');

module.exports = function vouchFixture(config) {
  const dir = config.dir;
  const serve = (file, res) => {
    fs.readFile(file, (err, data) => {
      if (err) {
        res.status(404).json({ error: 'not found' });
        return;
      }
      res.set('content-type', 'application/json').send(data);
    });
  };
  return {
    register_middlewares(app) {
      app.get('/-/npm/v1/keys', (_req, res) => serve(path.join(dir, 'keys.json'), res));
      app.get('/-/npm/v1/attestations/:spec(*)', (req, res) => {
        const spec = decodeURIComponent(req.params.spec || req.path.slice('/-/npm/v1/attestations/'.length));
        serve(path.join(dir, 'attestations', `${encodeURIComponent(spec)}.json`), res);
      });
    },
  };
};
