#pragma once
// Owning handles for cairo and fontconfig objects: unique_ptr with the library's destroy function, so
// that every object is released on every path, exceptions included.
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include <memory>

namespace vkattn::cli {

template <typename T, void (*Destroy)(T*)>
struct CDeleter {
    void operator()(T* p) const noexcept {
        if (p) Destroy(p);
    }
};

using CairoSurface = std::unique_ptr<cairo_surface_t, CDeleter<cairo_surface_t, cairo_surface_destroy>>;
using CairoContext = std::unique_ptr<cairo_t, CDeleter<cairo_t, cairo_destroy>>;
using CairoFontFace = std::unique_ptr<cairo_font_face_t, CDeleter<cairo_font_face_t, cairo_font_face_destroy>>;
using CairoScaledFont = std::unique_ptr<cairo_scaled_font_t, CDeleter<cairo_scaled_font_t, cairo_scaled_font_destroy>>;
using CairoFontOptions = std::unique_ptr<cairo_font_options_t, CDeleter<cairo_font_options_t, cairo_font_options_destroy>>;
using FcPatternHandle = std::unique_ptr<FcPattern, CDeleter<FcPattern, FcPatternDestroy>>;

}  // namespace vkattn::cli
