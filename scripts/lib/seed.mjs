// A demonstration fleet for a running system: containers at towns across Europe with contents,
// capacity, fill, battery and position, and weeks of history if asked, posted as a sensor gateway
// would (a fleet device key, batches of 500). With a partner, every refill of that history is the
// delivery of an order: the container opens it below its threshold, the partner accepts, dispatches
// and delivers it through signed webhooks before the level rises, so the history has orders with
// their whole fulfilment and sales documents, and refills nobody delivered only where meant.
// Deterministic for a given count, so a dashboard shows the same fleet each time.
import { createHmac } from "node:crypto";

const CONTENTS = ["diesel", "heating-oil", "pellets", "grain", "cement", "water"];

/** What each of the contents is counted in, how big its containers are, and what the partner charges. */
const GOODS = {
  diesel: { unit: "l", capacity: [10_000, 40_000], step: 500, unitPrice: 1.52, vatRate: 0.2 },
  "heating-oil": { unit: "l", capacity: [3_000, 10_000], step: 500, unitPrice: 1.08, vatRate: 0.2 },
  pellets: { unit: "kg", capacity: [5_000, 20_000], step: 500, unitPrice: 0.31, vatRate: 0.07 },
  grain: { unit: "kg", capacity: [20_000, 60_000], step: 1_000, unitPrice: 0.24, vatRate: 0.07 },
  cement: { unit: "kg", capacity: [30_000, 80_000], step: 1_000, unitPrice: 0.125, vatRate: 0.2 },
  water: { unit: "l", capacity: [10_000, 50_000], step: 1_000, unitPrice: 0.004, vatRate: 0.07 },
};

function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Towns inland across Europe: a demonstration fleet stands on land, near a place with a name. */
const PLACES = [
  ["Zurich", 47.37, 8.54],
  ["Lyon", 45.76, 4.84],
  ["Munich", 48.14, 11.58],
  ["Milan", 45.46, 9.19],
  ["Vienna", 48.21, 16.37],
  ["Prague", 50.08, 14.44],
  ["Krakow", 50.06, 19.94],
  ["Madrid", 40.42, -3.7],
  ["Toulouse", 43.6, 1.44],
  ["Brussels", 50.85, 4.35],
  ["Berlin", 52.52, 13.4],
  ["Warsaw", 52.23, 21.01],
  ["Budapest", 47.5, 19.04],
  ["Bratislava", 48.15, 17.11],
  ["Ljubljana", 46.06, 14.51],
  ["Zagreb", 45.81, 15.98],
  ["Turin", 45.07, 7.69],
  ["Bologna", 44.49, 11.34],
  ["Florence", 43.77, 11.26],
  ["Zaragoza", 41.65, -0.89],
  ["Lille", 50.63, 3.06],
  ["Strasbourg", 48.57, 7.75],
  ["Geneva", 46.2, 6.14],
  ["Bern", 46.95, 7.45],
  ["Stuttgart", 48.78, 9.18],
  ["Frankfurt", 50.11, 8.68],
  ["Cologne", 50.94, 6.96],
  ["Leipzig", 51.34, 12.37],
  ["Dresden", 51.05, 13.74],
  ["Poznan", 52.41, 16.93],
  ["Brno", 49.2, 16.61],
  ["Graz", 47.07, 15.44],
  ["Salzburg", 47.81, 13.06],
  ["Dijon", 47.32, 5.04],
  ["Limoges", 45.83, 1.26],
  ["Clermont-Ferrand", 45.78, 3.08],
  ["Madrid-Getafe", 40.31, -3.73],
  ["Valladolid", 41.65, -4.72],
  ["Kassel", 51.31, 9.48],
  ["Linz", 48.31, 14.29],
];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP = 6 * HOUR;
/** The threshold every seeded container keeps (the default). */
const THRESHOLD = 50;

/** The readings of a fleet of `count` containers (ids `<prefix>-00001`…), with what each holds and how much. */
export function fleetReadings(count, { prefix = "tank", seed = 7, measuredAt = new Date().toISOString() } = {}) {
  const r = random(seed);
  // Sizes from a stream of their own, so the fleet's fills and places stay what they were.
  const size = random(seed + 101);
  return Array.from({ length: count }, (_, i) => {
    const [town, lat, lon] = PLACES[i % PLACES.length];
    const fillPercent = Math.round(r() * 1000) / 10;
    const contents = CONTENTS[Math.floor(r() * CONTENTS.length)];
    const goods = GOODS[contents];
    const [low, high] = goods.capacity;
    return {
      containerId: `${prefix}-${String(i + 1).padStart(5, "0")}`,
      fillPercent,
      contents,
      location: {
        lat: Math.round((lat + (r() - 0.5) * 0.12) * 1e5) / 1e5,
        lon: Math.round((lon + (r() - 0.5) * 0.16) * 1e5) / 1e5,
      },
      battery: Math.round(20 + r() * 80),
      measuredAt,
      town,
      capacity: Math.round((low + size() * (high - low)) / goods.step) * goods.step,
      unit: goods.unit,
    };
  });
}

/** The reading as a sensor sends it, without what only the seed knows of its container. */
function asReading(reading) {
  const { town, capacity, unit, ...sent } = reading;
  void [town, capacity, unit];
  return sent;
}

/**
 * Every 40th container from these shows one anomaly on purpose, so the anomaly screens and alerts
 * have something to show: a theft or leak, a refill nobody ordered, a sensor stuck on one value, a
 * delivery whose quantity the level does not show (only where the container has a capacity).
 */
export const DELIBERATE = { 5: "sudden_drop", 11: "unexpected_refill", 23: "stuck_sensor", 29: "delivery_mismatch" };
/** The anomaly a container of the fleet shows on purpose, if any. */
export const deliberateAnomaly = (index) => DELIBERATE[index % 40] ?? null;

const round1 = (v) => Math.round(v * 10) / 10;
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * @typedef {ReturnType<typeof fleetReadings>[number]} FleetReading
 * @typedef {{ containerId: string, readingId?: string, fillPercent: number, contents: string,
 *   location: { lat: number, lon: number }, battery: number, measuredAt: string }} Reading
 * @typedef {{ containerId: string, contents: string, readings: Reading[],
 *   deliveries: { index: number, rise: number }[], open: { index: number, dueAt: number } | null,
 *   anomaly: string | null }} ContainerHistory
 */

/**
 * Each container's readings over `days` before its reading of now (that one last), a reading every
 * 6 hours: consumption of 0.6–3.5 points a day with noise and a weekly pattern on half of them
 * (weekends slower). Below the threshold an order opens; the partner delivers it 1–3 days later (a
 * refill to 86–96 %), and until then the level stays below the threshold, as it would. Returns, per
 * container: `readings`; `deliveries`, the refills a partner delivers (the index of the refill's
 * reading, the rise in points); `open`, the order still open at the end (the index of the reading
 * that opened it, when it is due); `anomaly`, what it shows on purpose.
 * @param {FleetReading[]} now
 * @param {number} days
 * @param {{ seed?: number }} [options]
 * @returns {ContainerHistory[]}
 */
export function fleetHistory(now, days, { seed = 11 } = {}) {
  const r = random(seed);
  const steps = Math.floor((days * DAY) / STEP);
  return now.map((reading, i) => {
    // No history: today's readings as the fleet has them, fills anywhere from empty to full.
    if (steps === 0)
      return {
        containerId: reading.containerId,
        contents: reading.contents,
        readings: [asReading(reading)],
        deliveries: [],
        open: null,
        anomaly: null,
      };
    const anomaly = steps >= 24 ? deliberateAnomaly(i) : null;
    let rate = 0.6 + r() * 2.9;
    const weekly = i % 2 === 0;
    let fill = 35 + r() * 60;
    const lead = 4 + Math.floor(r() * 9);
    // A top-up with no order must come before any delivery (which would explain it), and a stuck
    // sensor must be expected to fall: both start full and consume steadily.
    if (anomaly === "unexpected_refill") [fill, rate] = [88, Math.min(rate, 1.2)];
    if (anomaly === "stuck_sensor") [fill, rate] = [92, Math.max(rate, 1.5)];
    // A delivery to mismatch comes early.
    if (anomaly === "delivery_mismatch") fill = 56;
    const end = Date.parse(reading.measuredAt);
    const readings = [];
    const deliveries = [];
    let opened = null;
    let stuck = null;
    for (let k = steps; k >= 0; k--) {
      const at = end - k * STEP;
      const weekday = new Date(at).getUTCDay();
      const pace = weekly && (weekday === 0 || weekday === 6) ? 0.5 : 1.15;
      fill -= (rate / 4) * pace + (r() - 0.5) * 0.8;
      const drop = anomaly === "sudden_drop" && k === Math.floor(steps / 2);
      if (drop) fill -= 22;
      const index = readings.length;
      if (opened !== null && index - opened >= lead && stuck === null && !drop) {
        const before = median(readings.slice(-3).map((p) => p.fillPercent));
        fill = 86 + r() * 10;
        deliveries.push({ index, rise: round1(fill - before) });
        opened = null;
      } else if (anomaly === "unexpected_refill" && index === Math.floor(steps / 3) && opened === null) {
        fill = 93 + r() * 4;
      }
      // Ordered, the level only falls until the delivery (a reading above the threshold would close the order).
      if (opened !== null) fill = Math.min(fill, THRESHOLD - 0.3);
      fill = Math.max(0, Math.min(100, fill));
      let shown = round1(fill);
      if (anomaly === "stuck_sensor" && k <= 14) shown = stuck ??= shown;
      if (opened === null && shown < THRESHOLD) opened = index;
      const battery = Math.min(100, reading.battery + Math.round((k / Math.max(steps, 1)) * 10));
      readings.push(
        k === 0
          ? { ...asReading(reading), fillPercent: shown }
          : {
              containerId: reading.containerId,
              readingId: `seed-${Math.round(at / 1000)}`,
              fillPercent: shown,
              contents: reading.contents,
              location: reading.location,
              battery,
              measuredAt: new Date(at).toISOString(),
            },
      );
      // A drop held by a second reading within the hour: a sensor's glitch is not a theft.
      if (drop && k > 0)
        readings.push({
          ...readings.at(-1),
          readingId: `seed-${Math.round((at + HOUR) / 1000)}`,
          fillPercent: round1(fill - 0.1),
          measuredAt: new Date(at + HOUR).toISOString(),
        });
    }
    reading.fillPercent = readings.at(-1).fillPercent;
    const open =
      opened === null ? null : { index: opened, dueAt: Date.parse(readings[opened].measuredAt) + lead * STEP };
    return { containerId: reading.containerId, contents: reading.contents, readings, deliveries, open, anomaly };
  });
}

/**
 * The readings of the fleet's history (today's left out), in time order, as a gateway posts them.
 * @param {FleetReading[]} now
 * @param {number} days
 * @param {{ seed?: number }} [options]
 * @returns {Reading[]}
 */
export function historyReadings(now, days, options) {
  return fleetHistory(now, days, options)
    .flatMap((c) => c.readings.slice(0, -1))
    .sort(byTime);
}

const byTime = (a, b) => (a.measuredAt < b.measuredAt ? -1 : a.measuredAt > b.measuredAt ? 1 : 0);

const pause = (ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * A request to the system, sent again while `wrangler dev` reloads on a change of the code (the
 * connection drops, or a 503) and after a 429's Retry-After: every request here may be repeated.
 * `init` may be a function, for what must be made afresh each time (a signature's timestamp).
 */
async function patiently(url, init) {
  for (let attempt = 0; ; attempt++) {
    let res;
    let text;
    try {
      res = await fetch(url, typeof init === "function" ? await init() : init);
      text = await res.text();
    } catch (error) {
      if (attempt >= 5) throw error;
      await pause(1000);
      continue;
    }
    if (res.status === 429 && attempt < 20) {
      await pause(Number(res.headers.get("Retry-After") ?? 5) * 1000);
      continue;
    }
    if (res.status === 503 && attempt < 5) {
      await pause(1000);
      continue;
    }
    return { status: res.status, ok: res.ok, text };
  }
}

async function call(base, path, init, token, { allow = [] } = {}) {
  const res = await patiently(base + path, {
    ...init,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...init?.headers },
  });
  if (!res.ok && !allow.includes(res.status))
    throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${res.text}`);
  const body = JSON.parse(res.text);
  return allow.length > 0 ? { status: res.status, body } : body;
}

export async function login(base, email, password) {
  const res = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login as ${email}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/**
 * The partners the seed registers, each serving some of the contents (a tanker company, a bulk
 * haulier), their webhook receivers on the partner stand-in. Two rather than one: a partner may
 * send 200 requests per 10 s, and the history's deliveries are some 600 events.
 */
export const DEMO_PARTNERS = [
  { id: "demo-tankers", name: "Demo Tankers (npm run seed)", contents: ["diesel", "heating-oil", "water"] },
  { id: "demo-bulk", name: "Demo Bulk Haulage (npm run seed)", contents: ["pellets", "grain", "cement"] },
];

/**
 * A demonstration partner, registered with its webhook on the partner stand-in at `standIn` (the
 * one `npm run dev` starts) and the stand-in told its secret, so every event sent to it is taken;
 * a partner there already gets a new secret. Its price list prices each of its deliveries.
 */
async function demoPartner(base, token, standIn, { id, name, contents }) {
  const answers = await fetch(`${standIn}/__received?partnerId=${id}`).then(
    (res) => res.ok,
    () => false,
  );
  if (!answers)
    throw new Error(
      `no partner stand-in answers at ${standIn}: npm run dev starts one beside the system; --partner names another, or --partner none seeds without partners`,
    );
  const webhookUrl = `${standIn}/partners/${id}/events`;
  const serves = { containerIds: [], contents };
  const made = await call(
    base,
    "/v1/partners",
    { method: "POST", body: JSON.stringify({ id, name, webhookUrl, serves }) },
    token,
    { allow: [409] },
  );
  let secret = made.body.secret;
  if (made.status === 409) {
    await call(base, `/v1/partners/${id}`, { method: "PATCH", body: JSON.stringify({ webhookUrl, serves }) }, token);
    ({ secret } = await call(base, `/v1/partners/${id}/secret`, { method: "POST" }, token));
  }
  const told = await fetch(`${standIn}/__control`, {
    method: "POST",
    body: JSON.stringify({ partnerId: id, secret, mode: "ok" }),
  });
  if (!told.ok) throw new Error(`the partner stand-in at ${standIn} did not take the secret: ${told.status}`);
  await call(
    base,
    `/v1/partners/${id}/prices`,
    {
      method: "PUT",
      body: JSON.stringify({
        currency: "EUR",
        prices: contents.map((product) => ({
          product,
          unit: GOODS[product].unit,
          unitPrice: GOODS[product].unitPrice,
          vatRate: GOODS[product].vatRate,
        })),
      }),
    },
    token,
  );
  return { id, secret };
}

/** A partner may send this many requests per 10 s (API_RATE_LIMIT, per partner): the seed keeps under it. */
const PARTNER_PACE = 190;

/**
 * The partner's side: its events, signed as docs/partners.md says, sent at most PARTNER_PACE per
 * 10 s (and again after a 429's Retry-After). An event's id follows from the order and the step, so
 * a retry is a repeat.
 */
function partnerSender(base, partner) {
  let sent = [];
  async function slot() {
    for (;;) {
      const now = Date.now();
      sent = sent.filter((t) => t > now - 10_000);
      if (sent.length < PARTNER_PACE) return void sent.push(now);
      await new Promise((ok) => setTimeout(ok, sent[0] + 10_000 - now + 5));
    }
  }
  return async function send(type, containerId, orderId, data = {}) {
    // The same body each try: an event id sent again with another body is refused.
    const body = JSON.stringify({
      eventId: `seed-${orderId}-${type}`,
      type,
      occurredAt: new Date().toISOString(),
      containerId,
      orderId,
      data,
    });
    const res = await patiently(`${base}/v1/webhooks/partners/${partner.id}`, async () => {
      await slot();
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = `v1=${createHmac("sha256", partner.secret).update(`${timestamp}.${body}`).digest("hex")}`;
      return {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "X-Fillgrid-Timestamp": timestamp,
          "X-Fillgrid-Signature": signature,
        },
        body,
      };
    });
    if (!res.ok) throw new Error(`partner event ${type} for ${orderId}: ${res.status} ${res.text}`);
  };
}

/** `work` over `items`, `width` at a time. */
async function inParallel(items, width, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const vehicle = (containerId) => `Truck ${1 + (Number(containerId.slice(-5)) % 12)}`;

/**
 * Post the fleet; returns the ids. `names`: how many of them get a name, a capacity and their place
 * (one settings call each). `partner`: the partner stand-in's address; with it and `days` of
 * history, the demonstration partners deliver every refill of the history (else the refills are
 * bare rises of the level, and the anomaly detector finds each unexpected).
 * @param {string} base
 * @param {string} adminToken
 * @param {number} count
 * @param {{ names?: number, prefix?: string, seed?: number, days?: number, partner?: string | null,
 *   log?: (line: string) => void }} [options]
 */
export async function seedFleet(
  base,
  adminToken,
  count,
  { names = 0, prefix, seed, days = 0, partner: standIn = null, log = () => {} } = {},
) {
  const { key } = await call(
    base,
    "/v1/device-keys",
    { method: "POST", body: JSON.stringify({ label: "demonstration fleet" }) },
    adminToken,
  );
  const current = fleetReadings(count, { prefix, seed });
  const plans = fleetHistory(current, days, { seed: (seed ?? 7) + 4 });
  const byId = new Map(current.map((r) => [r.containerId, r]));
  const partners = [];
  if (standIn && days > 0)
    for (const demo of DEMO_PARTNERS) partners.push(await demoPartner(base, adminToken, standIn, demo));
  const partner = partners.length > 0;
  // Who delivers what: each of the contents to its partner's events.
  const senders = new Map(
    partners.flatMap((p, i) => {
      const sender = partnerSender(base, p);
      return DEMO_PARTNERS[i].contents.map((c) => [c, sender]);
    }),
  );
  const send = (type, containerId, orderId, data) =>
    senders.get(byId.get(containerId).contents)(type, containerId, orderId, data);
  const planOf = new Map(plans.map((p) => [p.containerId, p]));
  // Each container's readings go in segments, cut at its delivered refills: the readings up to a
  // refill (one of them opens the order), then the partner's delivery, then the refill and on. The
  // containers do not wait for one another: a segment is posted as soon as what comes before it is
  // done (the container's settings, the delivery), beside the rest, in batches of up to 500.
  const segments = new Map(
    plans.map((p) => {
      const cuts = partner ? p.deliveries.map((d) => d.index) : [];
      return [p.containerId, [0, ...cuts].map((from, n) => p.readings.slice(from, cuts[n] ?? p.readings.length))];
    }),
  );
  const total = plans.reduce((n, p) => n + p.readings.length, 0);
  /** Per container: the segment being posted, and how many of its readings are still to go. */
  const progress = new Map(plans.map((p) => [p.containerId, { n: 0, left: segments.get(p.containerId)[0].length }]));
  /** Each container's open order, and its acceptance on the way (sent while the readings go on). */
  const active = new Map();
  /** Readings whose turn has come, and the work under way that brings more (settings, deliveries). */
  const ready = plans.slice(names).flatMap((p) => segments.get(p.containerId)[0]);
  const work = new Set();
  let nudge = () => {};
  let failure = null;
  const track = (promise) => {
    const done = promise.catch((error) => void (failure ??= error)).finally(() => (work.delete(done), nudge()));
    work.add(done);
  };
  const enqueue = (readings) => {
    ready.push(...readings);
    nudge();
  };
  let issuing = null;
  let posted = 0;
  let delivered = 0;
  let logged = 0;

  // Names, sizes and places before a container's readings, so its orders and alerts say where it
  // is and how much it holds; a few at once (the admin's rate limit waits out the rest).
  track(
    inParallel(current.slice(0, names), 8, async (r) => {
      await call(
        base,
        `/v1/containers/${r.containerId}`,
        {
          method: "PUT",
          // Its sensor reports every 6 hours, as the history does.
          body: JSON.stringify({
            name: `${r.town} ${r.contents} ${Number(r.containerId.slice(-5))}`,
            location: r.location,
            capacity: r.capacity,
            unit: r.unit,
            reportIntervalSeconds: 6 * 3600,
          }),
        },
        adminToken,
      );
      enqueue(segments.get(r.containerId)[0]);
    }).then(() => names > 0 && log(`${names} containers named, sized and placed`)),
  );

  const deliver = async (p, n) => {
    const open = active.get(p.containerId);
    if (open) {
      const c = byId.get(p.containerId);
      // What the level rose by, in the container's unit; a third more on purpose once.
      const mismatch = p.anomaly === "delivery_mismatch" && n === 0 ? 1.3 : 1;
      const quantity = Math.round(((p.deliveries[n].rise * c.capacity) / 100) * mismatch * 10) / 10;
      await open.accepted;
      await send("order.dispatched", p.containerId, open.orderId, {
        eta: new Date(Date.now() + 2 * HOUR).toISOString(),
        vehicle: vehicle(p.containerId),
      });
      await send("order.delivered", p.containerId, open.orderId, {
        lines: [{ product: p.contents, quantity, unit: c.unit }],
        deliveryNote: `DN-${open.orderId.slice(-8)}`,
      });
      active.delete(p.containerId);
      delivered++;
      // The documents of what Postgres holds so far are issued meanwhile, one run at a time.
      if (delivered % 40 === 0 && issuing === null)
        issuing = call(base, "/v1/documents/run", { method: "POST" }, adminToken)
          .catch((error) => void (failure ??= error))
          .finally(() => (issuing = null));
    }
    const next = segments.get(p.containerId)[n + 1];
    progress.set(p.containerId, { n: n + 1, left: next.length });
    enqueue(next);
  };

  for (;;) {
    // Work that failed stops the seed: a container's later readings would be refills nobody delivered.
    if (failure) throw failure;
    if (ready.length === 0) {
      if (work.size === 0) break;
      await new Promise((ok) => (nudge = ok));
      continue;
    }
    const chunk = ready.splice(0, 500).sort(byTime);
    const { results } = await call(
      base,
      "/v1/readings",
      { method: "POST", body: JSON.stringify({ readings: chunk }) },
      key,
    );
    results.forEach((result, j) => {
      const at = progress.get(result.containerId);
      at.left--;
      // A batch sent again after a dropped connection answers with the first answers.
      const opened = result.orderOpened ?? result.original?.orderOpened;
      if (opened) {
        const orderId = opened.id;
        // An order today's reading opened is not taken yet: the partner has only just heard of it.
        const accepted =
          partner && chunk[j].readingId ? send("order.accepted", result.containerId, orderId) : Promise.resolve();
        accepted.catch(() => {}); // awaited with the delivery, which fails with it
        active.set(result.containerId, { orderId, accepted });
      }
      const p = planOf.get(result.containerId);
      if (at.left === 0 && partner && p.deliveries[at.n]) track(deliver(p, at.n));
    });
    posted += chunk.length;
    if (posted - logged >= 5000) {
      logged = posted;
      log(`${posted} of ${total} readings, ${delivered} orders delivered`);
    }
  }
  if (partner) {
    // The orders still open were taken; those due within a day are on the road.
    await inParallel([...active], 16, async ([containerId, { orderId, accepted }]) => {
      await accepted;
      const plan = planOf.get(containerId);
      const open = plan?.open;
      if (!open || open.index === plan.readings.length - 1) return;
      const eta = Math.max(open.dueAt, Date.now() + 2 * HOUR);
      if (eta - Date.now() <= DAY)
        await send("order.dispatched", containerId, orderId, {
          eta: new Date(eta).toISOString(),
          vehicle: vehicle(containerId),
        });
    });
  }
  if (partner) log(`${total} readings posted, ${delivered} orders delivered; issuing their sales documents`);
  await issuing;
  if (failure) throw failure;
  const documents = partner ? await issueDocuments(base, adminToken, delivered, log) : 0;
  return {
    ids: current.map((r) => r.containerId),
    key,
    history: total - current.length,
    delivered,
    documents,
    partners: partners.map((p) => p.id),
  };
}

/**
 * The sales documents of the deliveries (the hourly job, asked now), once Postgres holds them all:
 * a newcomer sees them at once. Returns how many of the deliveries have theirs (the job may run
 * beside this, so what it issued counts too when every delivery is accounted for).
 */
async function issueDocuments(base, token, delivered, log) {
  const deadline = Date.now() + 60_000;
  let caughtUp = false;
  while (!caughtUp) {
    const { total } = await call(base, "/v1/orders?fulfilment=delivered&limit=1", {}, token);
    caughtUp = total >= delivered;
    if (caughtUp) break;
    if (Date.now() > deadline) {
      log(`Postgres holds ${total} of ${delivered} deliveries after a minute; the hourly job issues the rest`);
      break;
    }
    await new Promise((ok) => setTimeout(ok, 500));
  }
  let issued = 0;
  for (;;) {
    const run = await call(base, "/v1/documents/run", { method: "POST" }, token);
    issued += run.issued;
    if (run.issued > 0) continue;
    if (run.waiting > 0) log(`${run.waiting} delivered orders wait for a price (see the error records)`);
    return caughtUp && run.waiting === 0 ? delivered : issued;
  }
}
