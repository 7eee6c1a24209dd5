// The overview: every actor with its lag, unacknowledged and redelivered
// messages, throughput and dead letters; every event with its stream. The
// live part is also served alone (`/partial/overview`) for the page's
// script to swap in on each refresh.
import type { Status } from "../ops/status.ts";
import { sparkline } from "./_charts.ts";
import { type Html, html } from "./_html.ts";
import { bytes, href, num, type PageContext, time } from "./_layout.ts";
import { actorKey, type Sampler } from "./_sampler.ts";

/** The live part of the overview. */
export function overviewLive(
  ctx: PageContext,
  status: Status,
  sampler: Sampler,
  windowMs: number,
): Html {
  const now = Date.parse(status.time) || Date.now();
  const lag = status.actors.reduce((n, a) => n + a.pending, 0);
  const dead = status.actors.reduce((n, a) => n + a.deadLetters, 0);
  const deadEvents = status.events.reduce((n, e) => n + e.deadLetters, 0);
  const paused = status.actors.filter((a) => a.paused).length;
  const summary = html`
    <ul class="cards" aria-label="Summary">
      <li><span class="card-value" data-total="events">${num(
        status.events.length,
      )}</span> events</li>
      <li><span class="card-value" data-total="actors">${num(
        status.actors.length,
      )}</span> actors</li>
      <li${lag > 0
        ? html`
          class="warn"
        `
        : ""}><span class="card-value" data-total="pending">${num(
          lag,
        )}</span> messages behind</li>
    <li${Math.max(dead, deadEvents) > 0
      ? html`
        class="bad"
      `
      : ""}><span class="card-value" data-total="dead-letters">${num(
        Math.max(dead, deadEvents),
      )}</span> dead letters</li>
    <li${paused > 0
      ? html`
        class="warn"
      `
      : ""}><span class="card-value" data-total="paused">${num(
        paused,
      )}</span> paused</li>
    </ul>
  `;
  const actors = status.actors.map((a) => {
    const key = actorKey(a.event, a.name);
    const id = `${a.event}/${a.name}`;
    const state = !a.exists
      ? html`<span class="badge bad">no consumer</span>`
      : a.paused
      ? html`<span class="badge warn">paused</span> ${time(a.pausedAt, now)}`
      : html`<span class="badge ok">running</span>`;
    const config = a.config.matches === null
      ? html`<span class="muted" title="no code to compare with">–</span>`
      : a.config.matches
      ? html`<span class="badge ok">matches</span>`
      : html`<span class="badge bad">differs (${a.config.differences.length})</span>`;
    const action = ctx.readOnly || !a.exists ? "" : a.paused
      ? html`
        <button type="button" id="resume:${id}" data-action="resume"
          data-actor="${a.name}">Resume<span class="sr"> ${a
            .name}</span></button>
      `
      : html`
        <button type="button" id="pause:${id}" data-action="pause"
          data-actor="${a.name}">Pause<span class="sr"> ${a
            .name}</span></button>
      `;
    return html`<tr data-actor="${a.name}" data-event="${a.event}">
<th scope="row"><a href="${
      href(ctx, "/actor", { event: a.event, name: a.name })
    }">${a.name}</a></th>
<td>${a.event}</td>
<td class="n"><span data-field="pending">${num(a.pending)}</span></td>
<td class="spark">${
      sparkline(sampler.lag(key), `lag of ${a.name}`, "", windowMs, now)
    }</td>
<td class="n" data-field="ackPending">${num(a.ackPending)}</td>
<td class="n" data-field="redelivered">${num(a.redelivered)}</td>
<td class="spark">${
      sparkline(
        sampler.acked(key),
        `acknowledged by ${a.name}`,
        "/s",
        windowMs,
        now,
      )
    }</td>
<td class="n" data-field="waiting">${num(a.waiting)}</td>
<td class="n"><a href="${
      href(ctx, "/dead-letters", { event: a.event, actor: a.name })
    }" data-field="deadLetters"${
      a.deadLetters > 0
        ? html`
          class="bad"
        `
        : ""
    }>${num(a.deadLetters)}</a></td>
<td class="n" data-field="delayed">${num(a.delayed)}</td>
<td>${state}</td>
<td>${config}</td>
${ctx.readOnly ? "" : html`<td>${action}</td>`}
</tr>`;
  });
  const events = status.events.map((e) =>
    html`
      <tr data-event="${e.name}">
        <th scope="row">${e.name}</th>
        <td class="n" data-field="messages">${num(e.messages)}</td>
        <td class="n" data-field="bytes">${bytes(e.bytes)}</td>
        <td class="spark">${sparkline(
          sampler.emitted(e.name),
          `emits of ${e.name}`,
          "/s",
          windowMs,
          now,
        )}</td>
        <td class="n" data-field="lastSequence">${num(e.lastSequence)}</td>
        <td class="n" data-field="delayed">${num(e.delayed)}</td>
        <td
          class="n"><a href="${href(ctx, "/dead-letters", {
            event: e.name,
          })}" data-field="deadLetters"${e.deadLetters > 0
            ? html`
              class="bad"
            `
            : ""}>${num(e.deadLetters)}</a></td>
        <td class="n" data-field="consumers">${num(e.consumers)}</td>
        <td>${time(e.lastTime, now)}</td>
        <td>${!e.exists
          ? html`<span class="badge bad">no stream</span>`
          : e.config.matches === null
          ? html`<span class="muted">–</span>`
          : e.config.matches
          ? html`<span class="badge ok">matches</span>`
          : html`<span class="badge bad">differs (${e.config.differences.length})</span>`}</td>
      </tr>
    `
  );
  const minutes = Math.round(windowMs / 60_000);
  return html`
    ${summary}
    <section aria-labelledby="actors-h">
    <h2 id="actors-h">Actors</h2>
    ${status.actors.length === 0
      ? html`<p class="muted">No actors (durable consumers) on the server.</p>`
      : html`
        <div class="scroll">
          <table class="grid" id="actors">
            <caption
              class="sr">Actors with lag, throughput and dead letters; charts cover the last ${minutes} minutes</caption>
            <thead>
              <tr><th scope="col">Actor</th><th scope="col">Event</th><th scope="col" class="n">Lag</th><th scope="col">Lag, ${minutes} min</th><th scope="col" class="n">Ack pending</th><th scope="col" class="n">Redelivered</th><th scope="col">Acked/s</th><th scope="col" class="n">Waiting pulls</th><th scope="col" class="n">Dead letters</th><th scope="col" class="n">Delayed</th><th scope="col">State</th><th scope="col">Config</th>${ctx
                  .readOnly
                ? ""
                : html`<th scope="col">Action</th>`}</tr>
            </thead>
            <tbody>${actors}</tbody>
          </table>
        </div>
      `}
    </section>
    <section aria-labelledby="events-h">
    <h2 id="events-h">Events</h2>
    ${status.events.length === 0
      ? html`<p class="muted">No walnats events (streams) on the server.</p>`
      : html`
        <div class="scroll">
          <table class="grid" id="events">
            <caption class="sr">Events and their streams</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col" class="n">Messages</th>
                <th scope="col" class="n">Size</th>
                <th scope="col">Emitted/s</th>
                <th scope="col" class="n">Last sequence</th>
                <th scope="col" class="n">Delayed</th>
                <th scope="col" class="n">Dead letters</th>
                <th scope="col" class="n">Consumers</th>
                <th scope="col">Last emit</th>
                <th scope="col">Config</th>
              </tr>
            </thead>
            <tbody>${events}</tbody>
          </table>
        </div>
      `}
    </section>
    <p
      class="muted small">Status read <span data-field="time">${time(
        status.time,
        now,
      )}</span>; ${num(sampler.size)} samples in memory.</p>
  `;
}

/** The overview's body: the live part in a container the script refreshes. */
export function overviewBody(ctx: PageContext, live: Html): Html {
  return html`<div id="live" data-partial="${
    href(ctx, "/partial/overview")
  }">${live}</div>`;
}
