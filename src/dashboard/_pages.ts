// The other pages: one actor, dead letters (list and one), schedules, the
// live feed's shell, and the architecture of a Services. Everything shown
// from the server or the wire goes through `html`, which escapes it.
import type { ConsumerConfig } from "@nats-io/jetstream";
import type { AnyActor } from "../actor.ts";
import type { DeadLetter } from "../dead_letter.ts";
import type { Schedule } from "../ops/schedules.ts";
import type { ActorStatus, Status } from "../ops/status.ts";
import type { Services } from "../services/services.ts";
import { sparkline } from "./_charts.ts";
import { type Html, html } from "./_html.ts";
import { href, num, type PageContext, problem, time } from "./_layout.ts";
import { pretty, show } from "./_payload.ts";
import { actorKey, type Sampler } from "./_sampler.ts";

/** Bytes of a payload shown on a page. */
export const PAGE_PREVIEW = 64 * 1024;

const NANOS_FIELDS = new Set(["ack_wait", "inactive_threshold"]);

function configValue(field: string, value: unknown): string {
  if (value === undefined || value === null) return "–";
  if (NANOS_FIELDS.has(field) && typeof value === "number") {
    return `${num(value / 1e6)} ms`;
  }
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const SHOWN_FIELDS = [
  "durable_name",
  "ack_policy",
  "ack_wait",
  "max_deliver",
  "max_ack_pending",
  "description",
  "deliver_policy",
  "filter_subject",
  "replay_policy",
  "max_waiting",
  "num_replicas",
];

function stateBadge(a: ActorStatus, now: number): Html {
  if (!a.exists) return html`<span class="badge bad">no consumer</span>`;
  if (a.paused) {
    return html`<span class="badge warn">paused</span> since ${
      time(a.pausedAt, now)
    }`;
  }
  return html`<span class="badge ok">running</span>`;
}

/** One line of the dead-letter table. */
function letterRow(
  ctx: PageContext,
  letter: DeadLetter,
  withActions: boolean,
): Html {
  const iso = Number.isNaN(letter.time.getTime())
    ? null
    : letter.time.toISOString();
  const error = letter.error.length > 300
    ? `${letter.error.slice(0, 300)}…`
    : letter.error;
  const seq = letter.sequence;
  return html`<tr data-sequence="${seq}">
<th scope="row"><a href="${
    href(ctx, "/dead-letter", { event: letter.event, seq })
  }">#${seq}</a></th>
<td>${time(iso)}</td>
<td>${letter.actor}</td>
<td>${letter.reason}</td>
<td class="n">${num(letter.attempts)}</td>
<td class="error">${error}</td>
${
    withActions
      ? html`
        <td
          class="actions"><button type="button" id="replay:${seq}" data-action="replay" data-event="${letter
            .event}" data-sequence="${seq}">Replay<span class="sr"> #${seq}</span></button>
        <button type="button" class="danger" id="delete:${seq}" data-action="delete" data-event="${letter
          .event}" data-sequence="${seq}">Delete<span class="sr"> #${seq}</span></button></td>
      `
      : ""
  }
</tr>`;
}

function letterTable(
  ctx: PageContext,
  letters: readonly DeadLetter[],
  caption: string,
): Html {
  const actions = !ctx.readOnly;
  return html`
    <div class="scroll">
      <table class="grid" id="dead-letters">
        <caption class="sr">${caption}</caption>
        <thead>
          <tr><th scope="col">Sequence</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Reason</th><th scope="col" class="n">Attempts</th><th scope="col">Error</th>${actions
            ? html`<th scope="col">Actions</th>`
            : ""}</tr>
        </thead>
        <tbody>${letters.map((l) => letterRow(ctx, l, actions))}</tbody>
      </table>
    </div>
  `;
}

/** What the actor page shows. */
export interface ActorPageData {
  actor: ActorStatus;
  /** The consumer's configuration on the server (undefined if none). */
  server: Partial<ConsumerConfig> | undefined;
  /** The actor's code, when given to the dashboard. */
  code: AnyActor | undefined;
  /** Its latest dead letters, newest first. */
  failures: DeadLetter[];
  /** Milliseconds the charts cover. */
  windowMs: number;
}

/** One actor: numbers, charts, configuration against the code, failures. */
export function actorPage(
  ctx: PageContext,
  data: ActorPageData,
  sampler: Sampler,
): Html {
  const a = data.actor;
  const now = Date.now();
  const key = actorKey(a.event, a.name);
  const code = data.code?.consumerConfig() as
    | Record<string, unknown>
    | undefined;
  const server = data.server as Record<string, unknown> | undefined;
  const differs = new Set(a.config.differences.map((d) => d.field));
  const fields = [
    ...new Set([...SHOWN_FIELDS, ...Object.keys(code ?? {})]),
  ].filter((f) => (server && f in server) || (code && f in code));
  const configRows = fields.map((f) =>
    html`
      <tr${differs.has(f)
        ? html`
          class="differs"
        `
        : ""}>
        <th scope="row"><code>${f}</code></th>
        <td>${configValue(f, server?.[f])}</td>
        <td>${code === undefined
          ? ""
          : f in code
          ? configValue(f, code[f])
          : "–"}</td>
        <td>${differs.has(f)
          ? html`<span class="badge bad">differs</span>`
          : code !== undefined && f in code
          ? html`<span class="badge ok">same</span>`
          : ""}</td>
        </tr>
    `
  );
  const pauseButton = ctx.readOnly || !a.exists ? "" : a.paused
    ? html`
      <button type="button" id="resume:${a.event}/${a
        .name}" data-action="resume"
        data-actor="${a.name}">Resume</button>
    `
    : html`
      <button type="button" id="pause:${a.event}/${a.name}" data-action="pause"
        data-actor="${a.name}">Pause</button>
    `;
  return html`
    <p>Handles event <strong>${a.event}</strong> (stream <code>${a
      .stream}</code>). ${stateBadge(a, now)} ${pauseButton}</p>
    <dl class="facts">
      <div>
        <dt>Lag</dt>
        <dd data-field="pending">${num(a.pending)}</dd>
      </div>
      <div>
        <dt>Ack pending</dt>
        <dd data-field="ackPending">${num(a.ackPending)}</dd>
      </div>
      <div>
        <dt>Redelivered</dt>
        <dd data-field="redelivered">${num(a.redelivered)}</dd>
      </div>
      <div>
        <dt>Waiting pulls</dt>
        <dd data-field="waiting">${num(a.waiting)}</dd>
      </div>
      <div>
        <dt>Dead letters</dt>
        <dd data-field="deadLetters"><a href="${href(ctx, "/dead-letters", {
          event: a.event,
          actor: a.name,
        })}">${num(a.deadLetters)}</a></dd>
      </div>
      <div>
        <dt>Delayed</dt>
        <dd data-field="delayed">${num(a.delayed)}</dd>
      </div>
      <div>
        <dt>Last active</dt>
        <dd>${time(a.lastActive, now)}</dd>
      </div>
    </dl>
    <section aria-labelledby="charts-h">
      <h2 id="charts-h">Last ${Math.round(data.windowMs / 60_000)} minutes</h2>
      <p
        class="charts"><span>Lag ${sparkline(
          sampler.lag(key),
          `lag of ${a.name}`,
          "",
          data.windowMs,
          now,
        )}</span> <span>Acknowledged ${sparkline(
          sampler.acked(key),
          `acknowledged by ${a.name}`,
          "/s",
          data.windowMs,
          now,
        )}</span></p>
    </section>
    <section
      aria-labelledby="config-h"><h2 id="config-h">Consumer configuration</h2>
    ${server === undefined
      ? problem(
        "The consumer does not exist on the server: call register() on a subscriber with this actor.",
      )
      : ""}
    ${code === undefined
      ? html`
        <p
          class="muted">The dashboard was not given this actor's code (pass <code>actors</code> or <code>services</code>): only the server's side is shown.</p>
      `
      : a.config.matches === false
      ? problem(
        `The server's consumer differs from the code in ${a.config.differences.length} field(s): run register() to update it.`,
      )
      : ""}
    <div class="scroll"><table class="grid" id="config">
    <caption class="sr">The consumer's configuration on the server and in the code</caption>
    <thead><tr><th scope="col">Field</th><th scope="col">Server</th><th scope="col">Code</th><th scope="col"><span class="sr">Comparison</span></th></tr></thead>
    <tbody>${configRows}</tbody>
    </table></div></section>
    <section aria-labelledby="failures-h"><h2 id="failures-h">Recent failures</h2>
    ${data.failures.length === 0
      ? html`<p class="muted">No recent dead letters.</p>`
      : letterTable(
        ctx,
        data.failures,
        `The latest dead letters of ${a.name}, newest first`,
      )}
    <p><a href="${href(ctx, "/dead-letters", {
      event: a.event,
      actor: a.name,
    })}">All dead letters of ${a.name}</a></p></section>
  `;
}

/** The dead-letter index: events with their counts. */
export function deadLetterIndex(ctx: PageContext, status: Status): Html {
  const rows = status.events.map((e) => {
    const actors = status.actors.filter((a) =>
      a.event === e.name && a.deadLetters > 0
    );
    return html`
      <tr data-event="${e.name}">
        <th scope="row"><a href="${href(ctx, "/dead-letters", {
          event: e.name,
        })}">${e.name}</a></th>
        <td class="n" data-field="deadLetters">${num(e.deadLetters)}</td>
        <td>${actors.map((a, i) =>
          html`${i > 0 ? ", " : ""}<a href="${
            href(ctx, "/dead-letters", { event: e.name, actor: a.name })
          }">${a.name}</a> (${num(a.deadLetters)})`
        )}</td>
      </tr>
    `;
  });
  return html`<p>Dead letters are messages an actor gave up on: out of attempts, or a payload that does not decode. Replaying one emits it again to its event (every actor of the event receives it).</p>
${
    status.events.length === 0
      ? html`<p class="muted">No walnats events on the server.</p>`
      : html`
        <table class="grid" id="dead-letter-index">
          <caption class="sr">Dead letters by event</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col" class="n">Dead letters</th>
              <th scope="col">By actor</th>
            </tr>
          </thead>
          <tbody>${rows}</tbody>
        </table>
      `
  }`;
}

/** What the dead-letter list page shows. */
export interface DeadLetterListData {
  event: string;
  actor: string | undefined;
  /** The actors of the event (for the filter). */
  actors: string[];
  letters: DeadLetter[];
  /** Dead letters matching the filter in all. */
  total: number;
  /** The sequence of the next page, if there are more. */
  next: number | undefined;
}

/** One event's dead letters, a page at a time. */
export function deadLetterList(
  ctx: PageContext,
  data: DeadLetterListData,
): Html {
  const { event, actor } = data;
  const filter = html`
    <form class="filter" method="get" action="${href(ctx, "/dead-letters")}">
      <input type="hidden" name="event" value="${event}">
      <label for="actor-filter">Actor</label>
      <select id="actor-filter" name="actor">
    <option value=""${actor === undefined
      ? html`
        selected
      `
      : ""}>all actors</option>
    ${data.actors.map((a) =>
      html`
        <option value="${a}" ${a === actor
          ? html`
            selected
          `
          : ""}>${a}</option>
      `
    )}
      </select>
      <button type="submit">Show</button>
    </form>
  `;
  const bulk = ctx.readOnly || data.total === 0 ? "" : html`
    <p class="bulk">
      <button type="button" id="replay-all" data-action="replay-all"
        data-event="${event}" ${actor === undefined ? "" : html`
          data-actor="${actor}"
        `}
        data-total="${data.total}">Replay all ${num(data.total)}</button>
      <button type="button" class="danger" id="delete-all" data-action="delete-all"
        data-event="${event}" ${actor === undefined ? "" : html`
          data-actor="${actor}"
        `}
        data-total="${data.total}">Delete all ${num(data.total)}</button>
      <span id="progress" role="status"></span>
    </p>
  `;
  const shown = data.letters.length;
  return html`<p>Event <strong>${event}</strong>${
    actor === undefined ? "" : html`, actor <strong>${actor}</strong>`
  }: <span data-field="total">${num(data.total)}</span> dead letter(s)${
    shown < data.total ? `, ${num(shown)} shown` : ""
  }. <a href="${href(ctx, "/dead-letters")}">All events</a></p>
${filter}
${bulk}
${
    shown === 0
      ? html`<p class="muted" id="none">No dead letters.</p>`
      : letterTable(ctx, data.letters, `Dead letters of ${event}, oldest first`)
  }
${
    data.next === undefined
      ? ""
      : html`<p><a href="${
        href(ctx, "/dead-letters", { event, actor, from: data.next })
      }" rel="next">Next page</a></p>`
  }`;
}

/** One dead letter in full. */
export function deadLetterPage(ctx: PageContext, letter: DeadLetter): Html {
  const body = show(letter.data, PAGE_PREVIEW);
  const iso = Number.isNaN(letter.time.getTime())
    ? null
    : letter.time.toISOString();
  const headers = Object.entries(letter.headers);
  const seq = letter.sequence;
  return html`
    <dl class="facts">
      <div>
        <dt>Event</dt>
        <dd>${letter.event}</dd>
      </div>
      <div>
        <dt>Actor</dt>
        <dd><a href="${href(ctx, "/actor", {
          event: letter.event,
          name: letter.actor,
        })}">${letter.actor}</a></dd>
      </div>
      <div>
        <dt>Reason</dt>
        <dd>${letter.reason}</dd>
      </div>
      <div>
        <dt>Attempts</dt>
        <dd>${num(letter.attempts)}</dd>
      </div>
      <div>
        <dt>When</dt>
        <dd>${time(iso)}</dd>
      </div>
      <div>
        <dt>Original</dt>
        <dd>#${letter.originalSequence} on <code>${letter.subject}</code></dd>
      </div>
    </dl>
    ${ctx.readOnly ? "" : html`
      <p class="bulk">
        <button type="button" id="replay:${seq}" data-action="replay"
          data-event="${letter.event}" data-sequence="${seq}"
          data-then="${href(ctx, "/dead-letters", {
            event: letter.event,
          })}">Replay</button>
        <button type="button" class="danger" id="delete:${seq}"
          data-action="delete" data-event="${letter
            .event}" data-sequence="${seq}"
          data-then="${href(ctx, "/dead-letters", {
            event: letter.event,
          })}">Delete</button>
      </p>
    `}
    <h2>Error</h2>
    <pre class="box" id="error">${letter.error}</pre>
    ${letter.stack
      ? html`
        <h2>Stack</h2>
        <pre class="box" id="stack">${letter.stack}</pre>
      `
      : ""}
    <h2>Headers</h2>
    ${headers.length === 0 ? html`<p class="muted">None.</p>` : html`
      <table class="grid" id="headers">
        <caption class="sr">The original message's headers</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>${headers.map(([k, v]) =>
          html`
            <tr>
              <th scope="row"><code>${k}</code></th>
              <td><code>${v}</code></td>
            </tr>
          `
        )}</tbody>
      </table>
    `}
    <h2>Payload</h2>
    <p class="muted">${num(body.size)} bytes${body.kind === "base64"
      ? ", not UTF-8: shown as base64"
      : ""}${body.truncated
      ? `, first ${num(PAGE_PREVIEW)} bytes shown`
      : ""}${letter.truncated
      ? "; too large to copy: the original stays in the event's stream and a replay takes it from there"
      : ""}.</p>
    <pre class="box" id="payload">${body.kind === "text"
      ? pretty(body.content)
      : body.content}</pre>
  `;
}

/** The stored schedules. */
export function schedulesPage(
  ctx: PageContext,
  schedules: (Schedule & { error?: string })[],
): Html {
  void ctx;
  if (schedules.length === 0) {
    return html`
      <p
        class="muted">No schedules in the <code>walnats_schedules</code> bucket. Add one with <code>walnats schedules add</code> or <code>upsertSchedule()</code>.</p>
    `;
  }
  return html`
    <p>Schedules live in the NATS KV bucket <code>walnats_schedules</code>; a listener that runs schedules emits the event on each tick.</p>
    <div class="scroll">
      <table class="grid" id="schedules">
        <caption class="sr">Durable schedules</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Event</th>
            <th scope="col">When</th>
            <th scope="col">Time zone</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>${schedules.map((s) =>
          html`<tr data-schedule="${s.id}">
<th scope="row">${s.id}</th>
${
            s.error !== undefined
              ? html`<td colspan="4" class="bad">${s.error}</td>`
              : html`<td>${s.event}</td>
<td>${
                s.cron !== undefined
                  ? html`cron <code>${s.cron}</code>`
                  : `every ${num(s.every ?? 0)} ms`
              }</td>
<td>${s.timeZone ?? "UTC"}</td>
<td><code>${
                s.message === undefined
                  ? "–"
                  : JSON.stringify(s.message)
              }</code></td>`
          }
</tr>`
        )}</tbody>
      </table>
    </div>
  `;
}

/** The live feed's shell; the script fills it from `/api/feed`. */
export function feedPage(ctx: PageContext, events: string[]): Html {
  return html`
    <p>Messages as they are emitted (a core subscription: nothing is taken from the actors, nothing is stored). The newest is on top; at most 200 are kept on the page.</p>
    <form class="filter" id="feed-controls">
      <label for="feed-filter">Event</label>
      <select id="feed-filter">
    <option value="">all events</option>
    ${events.map((e) => html`<option value="${e}">${e}</option>`)}
      </select>
      <label><input type="checkbox" id="feed-pause"> Pause</label>
      <button type="button" id="feed-clear">Clear</button>
    </form>
    <p id="feed-state" role="status">Connecting…</p>
    <ol id="feed" class="feed" data-source="${href(ctx, "/api/feed")}"
      aria-label="Emitted messages, newest first"></ol>
  `;
}

/** The architecture: who emits and handles what, Mermaid, AsyncAPI. */
export function architecturePage(
  ctx: PageContext,
  services: Services,
  asyncapi: unknown,
): Html {
  const events = new Map<
    string,
    { emitters: string[]; handlers: string[] }
  >();
  const entry = (name: string) => {
    let e = events.get(name);
    if (e === undefined) events.set(name, e = { emitters: [], handlers: [] });
    return e;
  };
  for (const s of services.services) {
    for (const e of s.emits) entry(e.name).emitters.push(s.name);
    for (const a of s.actors) {
      entry(a.event.name).handlers.push(`${a.name} (${s.name})`);
    }
  }
  const rows = [...events].sort(([a], [b]) => a < b ? -1 : 1).map((
    [name, e],
  ) =>
    html`
      <tr>
        <th scope="row">${name}</th>
        <td>${e.emitters.length === 0
          ? html`<span class="muted">external</span>`
          : e.emitters.join(", ")}</td>
        <td>${e.handlers.join(", ")}</td>
      </tr>
    `
  );
  return html`
    <table class="grid" id="flows">
      <caption class="sr">Who emits and who handles each event</caption>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Emitted by</th>
          <th scope="col">Handled by (service)</th>
        </tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
    <h2>Mermaid diagram</h2>
    <p
      class="muted">Paste into any Mermaid renderer (nothing is loaded from the network here).</p>
    <pre class="box" id="mermaid">${services.mermaid()}</pre>
    <h2>AsyncAPI 3 document</h2>
    <p><a href="${href(
      ctx,
      "/api/asyncapi.json",
    )}" download="asyncapi.json">Download asyncapi.json</a></p>
    <pre class="box" id="asyncapi">${JSON.stringify(asyncapi, null, 2)}</pre>
  `;
}
