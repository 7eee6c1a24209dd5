// D2 and Mermaid diagrams of a system: services as boxes, events as ovals
// (stadiums), arrows from emitters to events and from events to the
// services whose actors handle them. Colours follow event storming.
import type { Service, SystemGraph } from "./service.ts";

/**
 * Nodes and edges shared by both diagrams. Ids are positional (`s0`,
 * `e0`) because names may hold dots, which both languages treat
 * specially, and a service and an event may share a name.
 */
export function diagramGraph(system: SystemGraph): {
  services: Map<string, Service>;
  events: Map<string, string>;
  edges: [string, string, string | undefined][];
} {
  const services = new Map<string, Service>();
  const serviceId = new Map<string, string>();
  system.services.forEach((s, i) => {
    services.set(`s${i}`, s);
    serviceId.set(s.name, `s${i}`);
  });
  const events = new Map<string, string>();
  const edges: [string, string, string | undefined][] = [];
  [...system.events.values()].forEach((event, i) => {
    const id = `e${i}`;
    const notes = [
      ...(event.response !== undefined ? ["with reply"] : []),
      ...(system.emitters.has(event.name) ? [] : ["external"]),
    ];
    events.set(
      id,
      notes.length > 0 ? `${event.name} (${notes.join(", ")})` : event.name,
    );
    for (const s of system.emitters.get(event.name) ?? []) {
      edges.push([serviceId.get(s.name) ?? "", id, undefined]);
    }
    for (const { service, actor } of system.handlers.get(event.name) ?? []) {
      edges.push([id, serviceId.get(service.name) ?? "", actor.name]);
    }
  });
  return { services, events, edges };
}

/** Render the D2 source of `graph`. */
export function renderD2(graph: SystemGraph): string {
  const { services, events, edges } = diagramGraph(graph);
  const lines = ["direction: right", ""];
  for (const [id, s] of services) {
    lines.push(`${id}: ${JSON.stringify(s.name)} {`);
    lines.push(`  style.stroke: "#f39c12"`, `  style.fill: "#fef4e6"`, "}");
  }
  for (const [id, label] of events) {
    lines.push(`${id}: ${JSON.stringify(label)} {`);
    lines.push(
      "  shape: oval",
      `  style.stroke: "#e74c3c"`,
      `  style.fill: "#fcebea"`,
      "}",
    );
  }
  if (edges.length > 0) lines.push("");
  for (const [from, to, label] of edges) {
    lines.push(
      label === undefined
        ? `${from} -> ${to}`
        : `${from} -> ${to}: ${JSON.stringify(label)}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Render the Mermaid source of `graph`. */
export function renderMermaid(graph: SystemGraph): string {
  const { services, events, edges } = diagramGraph(graph);
  const lines = ["flowchart LR"];
  for (const [id, s] of services) {
    lines.push(`  ${id}[${mermaidText(s.name)}]`);
  }
  for (const [id, label] of events) {
    lines.push(`  ${id}([${mermaidText(label)}])`);
  }
  for (const [from, to, label] of edges) {
    lines.push(
      label === undefined
        ? `  ${from} --> ${to}`
        : `  ${from} -->|${mermaidText(label)}| ${to}`,
    );
  }
  lines.push("  classDef service stroke:#f39c12,fill:#fef4e6");
  lines.push("  classDef event stroke:#e74c3c,fill:#fcebea");
  if (services.size > 0) {
    lines.push(`  class ${[...services.keys()].join(",")} service`);
  }
  if (events.size > 0) {
    lines.push(`  class ${[...events.keys()].join(",")} event`);
  }
  return lines.join("\n") + "\n";
}

/** Quote a Mermaid label; `#quot;` is Mermaid's escape for `"`. */
function mermaidText(text: string): string {
  return `"${text.replaceAll('"', "#quot;")}"`;
}
