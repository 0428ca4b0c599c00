// Per-layer profiling of edgecxr's own engine: with PROFILE=1 the Makefile compiles the generated
// edgecxr_model.c with -include this file and EDGECXR_LAYER_HOOK(i)=edgecxr_layer_hook(i), so the
// hook runs before layer i and once more (i == EDGECXR_LAYERS) after the last.
#ifndef EDGECXR_LAYER_HOOK_H_
#define EDGECXR_LAYER_HOOK_H_

void edgecxr_layer_hook(int index);

#endif  // EDGECXR_LAYER_HOOK_H_
