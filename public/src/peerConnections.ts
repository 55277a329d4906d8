// The transport builds a new RTCPeerConnection for every call and every ICE restart and keeps it to itself. After a
// restart it also stops reporting the new bot tracks through onTrackStarted (1.10.8), so the page follows bot media
// from each peer's own `track` events, and has to see every peer as it is created to do that.

/** Calls `listener` with every RTCPeerConnection the page creates from now on. */
export function onPeerConnection(listener: (pc: RTCPeerConnection) => void): void {
  const Native = globalThis.RTCPeerConnection;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      listener(this);
    }
  };
}
