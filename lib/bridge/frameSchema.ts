/**
 * The schema of Pipecat's WebSocket frames (package `pipecat`, proto3), as `ProtobufFrameSerializer` and the
 * official `@pipecat-ai/websocket-transport` client speak it (docs/protocol.md §7). Each WebSocket message
 * is one `Frame`, whose `frame` oneof holds one of five messages. The descriptor is built here, field by field, so that
 * @bufbuild/protobuf does the encoding without a code generator in the build.
 */
import { create, createFileRegistry, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  type DescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt/google/protobuf/descriptor_pb.js";

export type TextFrame = Message<"pipecat.TextFrame"> & { id: bigint; name: string; text: string };

export type AudioRawFrame = Message<"pipecat.AudioRawFrame"> & {
  id: bigint;
  name: string;
  /** PCM s16le, interleaved when numChannels > 1. */
  audio: Uint8Array;
  sampleRate: number;
  numChannels: number;
  pts?: bigint;
};

export type TranscriptionFrame = Message<"pipecat.TranscriptionFrame"> & {
  id: bigint;
  name: string;
  text: string;
  userId: string;
  timestamp: string;
};

/** `data` is JSON text: a transport message, RTVI ones included. */
export type MessageFrame = Message<"pipecat.MessageFrame"> & { data: string };

export type InterruptionFrame = Message<"pipecat.InterruptionFrame"> & { id: bigint; name: string };

export type Frame = Message<"pipecat.Frame"> & {
  frame:
    | { case: "text"; value: TextFrame }
    | { case: "audio"; value: AudioRawFrame }
    | { case: "transcription"; value: TranscriptionFrame }
    | { case: "message"; value: MessageFrame }
    | { case: "interruption"; value: InterruptionFrame }
    | { case: undefined; value?: undefined };
};

const { UINT64, UINT32, STRING, BYTES, MESSAGE } = FieldDescriptorProto_Type;
type FieldType = FieldDescriptorProto_Type;

interface FieldSpec {
  number: number;
  type: FieldType;
  /** For message fields. */
  typeName?: string;
  /** Index of the oneof the field belongs to. */
  oneofIndex?: number;
  /** proto3 `optional`: presence is tracked through a synthetic oneof. */
  optional?: boolean;
}

function message(
  name: string,
  fields: Record<string, FieldSpec>,
  oneofs: string[] = [],
): MessageInitShape<GenMessage<DescriptorProto>> {
  return {
    name,
    field: Object.entries(fields).map(([fieldName, spec]) => ({
      name: fieldName,
      number: spec.number,
      type: spec.type,
      typeName: spec.typeName,
      label: FieldDescriptorProto_Label.OPTIONAL,
      oneofIndex: spec.oneofIndex,
      proto3Optional: spec.optional,
    })),
    oneofDecl: oneofs.map((oneof) => ({ name: oneof })),
  };
}

const ID_AND_NAME: Record<string, FieldSpec> = {
  id: { number: 1, type: UINT64 },
  name: { number: 2, type: STRING },
};

const member = (number: number, typeName: string): FieldSpec => ({
  number,
  type: MESSAGE,
  typeName: `.pipecat.${typeName}`,
  oneofIndex: 0,
});

const file = create(FileDescriptorProtoSchema, {
  name: "pipecat/frames.proto",
  package: "pipecat",
  syntax: "proto3",
  messageType: [
    message("TextFrame", { ...ID_AND_NAME, text: { number: 3, type: STRING } }),
    message(
      "AudioRawFrame",
      {
        ...ID_AND_NAME,
        audio: { number: 3, type: BYTES },
        sample_rate: { number: 4, type: UINT32 },
        num_channels: { number: 5, type: UINT32 },
        pts: { number: 6, type: UINT64, oneofIndex: 0, optional: true },
      },
      ["_pts"],
    ),
    message("TranscriptionFrame", {
      ...ID_AND_NAME,
      text: { number: 3, type: STRING },
      user_id: { number: 4, type: STRING },
      timestamp: { number: 5, type: STRING },
    }),
    message("MessageFrame", { data: { number: 1, type: STRING } }),
    message("InterruptionFrame", ID_AND_NAME),
    message(
      "Frame",
      {
        text: member(1, "TextFrame"),
        audio: member(2, "AudioRawFrame"),
        transcription: member(3, "TranscriptionFrame"),
        message: member(4, "MessageFrame"),
        interruption: member(5, "InterruptionFrame"),
      },
      ["frame"],
    ),
  ],
});

const registry = createFileRegistry(file, () => undefined);

function schema<T extends Message>(typeName: T["$typeName"]): GenMessage<T> {
  return registry.getMessage(typeName) as unknown as GenMessage<T>;
}

/** The message every WebSocket binary message holds. */
export const FrameSchema: GenMessage<Frame> = schema<Frame>("pipecat.Frame");
