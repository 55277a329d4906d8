// Microphone and camera controls. The pickers list the devices the client reports and switch them mid-call without
// renegotiating; the mic toggle mutes (the device stays open, the bot gets silence), the camera toggle turns the
// camera itself on or off.
import { type PipecatClient, RTVIEvent } from "@pipecat-ai/client-js";

export interface DeviceControls {
  micSelect: HTMLSelectElement;
  camSelect: HTMLSelectElement;
  micToggle: HTMLButtonElement;
  camToggle: HTMLButtonElement;
}

export function bindDevices(client: PipecatClient, controls: DeviceControls): void {
  const { micSelect, camSelect, micToggle, camToggle } = controls;
  const render = () => {
    setToggle(micToggle, client.isMicEnabled, "Mic on", "Mic muted");
    setToggle(camToggle, client.isCamEnabled, "Camera on", "Camera off");
  };

  client.on(RTVIEvent.AvailableMicsUpdated, (mics: MediaDeviceInfo[]) => fill(micSelect, mics, client.selectedMic.deviceId));
  client.on(RTVIEvent.AvailableCamsUpdated, (cams: MediaDeviceInfo[]) => fill(camSelect, cams, client.selectedCam.deviceId));
  client.on(RTVIEvent.MicUpdated, (mic: MediaDeviceInfo) => (micSelect.value = mic.deviceId));
  client.on(RTVIEvent.CamUpdated, (cam: MediaDeviceInfo) => (camSelect.value = cam.deviceId));
  micSelect.addEventListener("change", () => client.updateMic(micSelect.value));
  camSelect.addEventListener("change", () => client.updateCam(camSelect.value));
  micToggle.addEventListener("click", () => {
    client.enableMic(!client.isMicEnabled);
    render();
  });
  camToggle.addEventListener("click", () => {
    client.enableCam(!client.isCamEnabled);
    render();
  });
  render();
}

function setToggle(button: HTMLButtonElement, on: boolean, onText: string, offText: string): void {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? onText : offText;
}

/** Lists `devices` (labels appear once the browser has granted access), keeping `selected` chosen. */
function fill(select: HTMLSelectElement, devices: MediaDeviceInfo[], selected: string | undefined): void {
  const options = devices.map((device, i) => new Option(device.label || `Device ${i + 1}`, device.deviceId));
  select.replaceChildren(...(options.length ? options : [new Option("Default", "")]));
  if (selected) select.value = selected;
}
