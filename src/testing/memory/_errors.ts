// The JetStream API errors the broker returns: nats-server 2.9's codes and
// descriptions (server/errors.json), so clients map them as they would.

/** The `error` object of a JetStream API response. */
export interface ApiErrorBody {
  code: number;
  err_code: number;
  description: string;
}

/** A JetStream API error, thrown inside the broker and sent as JSON. */
export class ApiError extends Error {
  readonly body: ApiErrorBody;

  constructor(code: number, errCode: number, description: string) {
    super(description);
    this.name = "ApiError";
    this.body = { code, err_code: errCode, description };
  }
}

const e =
  (code: number, errCode: number, description: string) => (): ApiError =>
    new ApiError(code, errCode, description);

/** The errors, by nats-server's constant names (without `JS`/`Err`). */
export const errors = {
  invalidJSON: e(400, 10025, "invalid JSON"),
  badRequest: e(400, 10003, "bad request"),
  streamNotFound: e(404, 10059, "stream not found"),
  streamNameExist: e(
    400,
    10058,
    "stream name already in use with a different configuration",
  ),
  streamMismatch: e(
    400,
    10056,
    "stream name in subject does not match request",
  ),
  streamSubjectOverlap: e(
    400,
    10065,
    "subjects overlap with an existing stream",
  ),
  streamInvalidConfig: (err: string): ApiError => new ApiError(500, 10052, err),
  streamMessageExceedsMaximum: e(
    400,
    10054,
    "message size exceeds maximum allowed",
  ),
  streamStoreFailed: (err: string): ApiError => new ApiError(503, 10077, err),
  streamNotMatch: e(400, 10060, "expected stream does not match"),
  streamWrongLastSequence: (seq: number): ApiError =>
    new ApiError(400, 10071, `wrong last sequence: ${seq}`),
  streamWrongLastMsgID: (id: string): ApiError =>
    new ApiError(400, 10070, `wrong last msg ID: ${id}`),
  streamMsgDeleteFailed: (err: string): ApiError =>
    new ApiError(500, 10057, err),
  noMessageFound: e(404, 10037, "no message found"),
  consumerNotFound: e(404, 10014, "consumer not found"),
  consumerCreate: (err: string): ApiError => new ApiError(500, 10012, err),
  consumerNameExist: e(400, 10013, "consumer name already in use"),
  consumerDurableNameMismatch: e(
    400,
    10017,
    "consumer name in subject does not match durable name in request",
  ),
  consumerBadDurableName: e(
    400,
    10103,
    "durable name can not contain '.', '*', '>'",
  ),
  consumerPullRequiresAck: e(
    400,
    10084,
    "consumer in pull mode requires ack policy",
  ),
  maximumConsumersLimit: e(400, 10026, "maximum consumers limit reached"),
  streamPurgeFailed: (err: string): ApiError => new ApiError(500, 10110, err),
  streamRestore: e(500, 10062, "restore not supported by the memory broker"),
};
