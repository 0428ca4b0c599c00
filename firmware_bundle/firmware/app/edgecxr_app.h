// The device program every board shares: load the model, then classify images one by one.
// Board-specific input, output and timing go through edgecxr_board.h. Not a medical device.
#ifndef EDGECXR_APP_H_
#define EDGECXR_APP_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {  // C linkage: the boards and the own engine's main loop are C, TFLM's main loop is C++
#endif

// Build the interpreter in the fixed arena. 0 on success; on failure the board was told why.
int edgecxr_app_setup(void);
// Classify the board's next image and print one "result" line. 0 when the board has none.
int edgecxr_app_step(void);

#ifdef __cplusplus
}
#endif

#endif  // EDGECXR_APP_H_
