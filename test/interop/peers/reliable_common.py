"""What the reliable-pipeline peers share: packed frames and the TZPC01 commands of docs/protocol.md
("Reliable pipeline (1.3)"), written from that document alone.

packed:  a run of records, each a 4-byte big-endian unsigned length and that many bytes ("Batches").
outcome: one status byte and the body (0 result, 1 final failure, 2 failure to deliver again, 3 the broker's own).
TZPC01:  every frontend command is ["", "TZPC01", command, ...] as a DEALER sends it; command is one byte.
"""
import struct

TZPC01 = b"TZPC01"
PUSH, ACCEPTED, REJECTED, FETCH, RESULTS, TAKEN, HEARTBEAT, DISCONNECT = (bytes([n]) for n in range(1, 9))
NAMES = {PUSH: "PUSH", ACCEPTED: "ACCEPTED", REJECTED: "REJECTED", FETCH: "FETCH", RESULTS: "RESULTS",
         TAKEN: "TAKEN", HEARTBEAT: "HEARTBEAT", DISCONNECT: "DISCONNECT"}

RESULT, FAILURE, RETRY, BROKER_FAILURE = 0, 1, 2, 3


def pack(records):
    """[len][bytes][len][bytes]... for a list of bytes."""
    return b"".join(struct.pack(">I", len(r)) + r for r in records)


def unpack(frame):
    """The records of a packed frame; ValueError when the lengths do not add up to its size."""
    records, at = [], 0
    while at < len(frame):
        if at + 4 > len(frame):
            raise ValueError(f"packed frame: a length cut short at byte {at} of {len(frame)}")
        (size,) = struct.unpack_from(">I", frame, at)
        at += 4
        if at + size > len(frame):
            raise ValueError(f"packed frame: a record of {size} bytes at byte {at} runs past the end ({len(frame)})")
        records.append(frame[at:at + size])
        at += size
    return records


def outcome(status, body):
    """One outcome record: the status byte, then the body."""
    return bytes([status]) + body


def tzpc(code, *frames):
    """A frontend command as a DEALER sends it."""
    return [b"", TZPC01, code, *frames]
