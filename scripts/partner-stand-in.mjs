// `npm run partner-stand-in`: a partner's webhook receiver on this machine, for `npm run dev` (which
// runs one of its own on 8790). It verifies each event's signature as a real partner would and
// prints what arrives.
//   npm run partner-stand-in -- --port 8792 --partner acme --secret fgp_…
// Register the partner with webhookUrl http://127.0.0.1:8792/partners/acme/events, pass the secret
// Fillgrid showed, and watch. POST /__control {"partnerId","mode":"fail"|"timeout"|"ok"} to make it
// misbehave; GET /__received?partnerId=acme lists what it took.
import { parseArgs } from "node:util";
import { startPartnerStandIn } from "./lib/partner-stand-in.mjs";

const { values } = parseArgs({
  options: { port: { type: "string", default: "8792" }, partner: { type: "string" }, secret: { type: "string" } },
});
const standIn = await startPartnerStandIn({
  port: Number(values.port),
  log: (line) => console.log(`[partner] ${line}`),
});
if (values.partner && values.secret) {
  await fetch(`${standIn.url}/__control`, {
    method: "POST",
    body: JSON.stringify({ partnerId: values.partner, secret: values.secret }),
  });
}
console.log(
  `[partner] listening on ${standIn.url}; webhook URL for ${values.partner ?? "<partner>"}: ${standIn.webhookUrl(values.partner ?? "<partner>")}`,
);
