// ${banner}
//
// Classifies chest X-rays with the C that edgecxr generated from the model (no TensorFlow Lite
// Micro library) and prints one line per image over Serial (115200 baud):
// "result image=N label=... score=... us=... raw=...". Not a medical device.
//
// The main loop is the library's edgecxr_app_engine.c, the same one the bare-metal firmware runs
// (`edgecxr export RUN --format firmware`); this board's hooks are in board_arduino.cpp.
// Replace edgecxr_board_next_image() there with your camera or file reader.

#include <edgecxr_app.h>

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {
  }
  edgecxr_app_setup();  // on failure the board hook prints "error: ..." and stops
}

void loop() {
  edgecxr_app_step();
  delay(2000);
}
