// Independent SSE parser for the ssekit conformance suite.
//
// Wraps `eventsource-parser` (the parser behind the npm `eventsource` package,
// which models browsers' EventSource) in a line protocol so that Rust tests can
// feed it raw bytes exactly as they came off the socket.
//
// stdin, one JSON object a line:
//   {"op":"feed","b64":"..."}  bytes of the stream (any chunking)
//   {"op":"end"}               end of stream: flush the decoder
//   {"op":"reset"}             start a new stream (fresh decoder, parser and last event id)
// stdout, one JSON object a line:
//   {"kind":"event","type":T,"data":D,"lastEventId":L}   a dispatched event, as EventSource sees it
//   {"kind":"comment","text":C}
//   {"kind":"retry","ms":N}
//   {"kind":"error","type":T,"message":M}                 the parser refused something
//   {"kind":"ack"}                                        after every request
import { createParser } from 'eventsource-parser';
import readline from 'node:readline';

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

let decoder;
let parser;
let lastEventId;

function fresh() {
  // The spec's "UTF-8 decode": replacement characters for bad bytes; a leading
  // BOM is left for the parser, which strips exactly one.
  decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  lastEventId = '';
  parser = createParser({
    onId: (id) => {
      lastEventId = id;
    },
    onEvent: (e) => {
      if (e.id !== undefined) lastEventId = e.id;
      out({ kind: 'event', type: e.event ?? 'message', data: e.data, lastEventId });
    },
    onComment: (text) => out({ kind: 'comment', text }),
    onRetry: (ms) => out({ kind: 'retry', ms }),
    onError: (err) => out({ kind: 'error', type: err.type ?? 'unknown', message: String(err.message) }),
  });
}

fresh();
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line) return;
  const msg = JSON.parse(line);
  if (msg.op === 'feed') {
    parser.feed(decoder.decode(Buffer.from(msg.b64, 'base64'), { stream: true }));
  } else if (msg.op === 'end') {
    parser.feed(decoder.decode());
  } else if (msg.op === 'reset') {
    fresh();
  }
  out({ kind: 'ack' });
});
