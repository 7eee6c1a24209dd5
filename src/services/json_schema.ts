// Payload schemas as JSON Schema (draft-07, the base of AsyncAPI's own
// schema format).
import type { Schema } from "../codecs/codec.ts";
import type { AnyEvent } from "../event.ts";

/** A JSON object, as found in the AsyncAPI document. */
export type JsonObject = { [key: string]: unknown };

export type Convert = (
  schema: Schema<unknown, unknown> | undefined,
  name: string,
  contentType: string,
) => JsonObject;

/**
 * A converter from schemas to JSON Schema (draft-07, the base of AsyncAPI's
 * own schema format); loads `@valibot/to-json-schema` only if a valibot
 * schema is present.
 */
export async function converter(events: AnyEvent[]): Promise<Convert> {
  const needsValibot = events.some((e) =>
    e.schema?.["~standard"].vendor === "valibot" ||
    e.responseSchema?.["~standard"].vendor === "valibot"
  );
  const valibot = needsValibot
    ? (await import("@valibot/to-json-schema")).toJsonSchema
    : undefined;
  return (schema, name, contentType) => {
    if (schema === undefined) {
      return {
        description:
          `No JSON Schema: "${name}" is encoded by a codec (${contentType}), not described by a schema`,
      };
    }
    const std = schema["~standard"] as Schema["~standard"] & {
      jsonSchema?: { input?: (o: { target: string }) => unknown };
    };
    try {
      let out: unknown;
      if (std.vendor === "valibot" && valibot !== undefined) {
        out = valibot(schema as Parameters<typeof valibot>[0], {
          target: "draft-07",
          typeMode: "input",
          errorMode: "throw",
        });
      } else if (typeof std.jsonSchema?.input === "function") {
        out = std.jsonSchema.input({ target: "draft-07" });
      } else {
        return {
          description:
            `No JSON Schema: the ${std.vendor} schema of "${name}" cannot be converted (it implements neither valibot nor Standard JSON Schema)`,
        };
      }
      const { $schema: _, ...rest } = out as JsonObject;
      return rest;
    } catch (error) {
      return {
        description:
          `No JSON Schema: converting the ${std.vendor} schema of "${name}" failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
      };
    }
  };
}
