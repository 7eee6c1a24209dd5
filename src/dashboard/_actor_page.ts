// The actor page: one actor's numbers, charts, its consumer's configuration
// against the code, its recent failures. Everything shown from the server or
// the wire goes through `html`, which escapes it.
import type { ConsumerConfig } from "@nats-io/jetstream";
import type { AnyActor } from "../actor.ts";
import type { DeadLetter } from "../dead_letter.ts";
import type { ActorStatus } from "../ops/status.ts";
import { sparkline } from "./_charts.ts";
import { letterTable } from "./_dead_letter_pages.ts";
import { type Html, html } from "./_html.ts";
import { href, num, type PageContext, problem, time } from "./_layout.ts";
import { actorKey, type Sampler } from "./_sampler.ts";

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
