// Drives a Centrifugo v1 server API with jscent, the v1-era Node client, and
// prints what each call answered as one JSON object on stdout.
// Usage: node check.js <base url> <secret> <channel>
'use strict';

const Client = require('jscent');

const [url, secret, channel] = process.argv.slice(2);
const client = new Client({ url: url, secret: secret, timeout: 10000 });
const out = {};

// call runs one jscent method and records (error, response) under name.
function call(name, fn) {
  return new Promise((resolve) => {
    fn((err, resp) => {
      out[name] = err ? { error: err.message, status: err.statusCode, body: err.body } : resp;
      resolve();
    });
  });
}

(async () => {
  await call('publish', (cb) => client.publish(channel, { input: 'hello from jscent' }, cb));
  await call('publishClient', (cb) => client.publishClient(channel, { n: 2 }, 'jscent-client', cb));
  await call('history', (cb) => client.history(channel, cb));
  await call('presence', (cb) => client.presence(channel, cb));
  await call('channels', (cb) => client.channels(cb));
  await call('stats', (cb) => client.stats(cb));
  await call('unsubscribe', (cb) => client.unsubscribe('42', channel, cb));
  await call('disconnect', (cb) => client.disconnect('42', cb));
  await call('batch', (cb) => {
    client.add('publish', { channel: channel, data: 3 });
    client.add('node', {});
    client.send(cb);
  });
  const wrong = new Client({ url: url, secret: secret + '-wrong', timeout: 10000 });
  await call('wrongSecret', (cb) => wrong.stats(cb));
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err));
  process.exit(1);
});
