#include "draw/text_font.hpp"

#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>

#include <map>
#include <mutex>

#include "draw/cairo_handles.hpp"
#include "draw/utf8.hpp"
#include "vkattn/error.hpp"

namespace vkattn::cli {
namespace {

CairoFontFace find_face() {
    const FcPatternHandle want(FcNameParse(reinterpret_cast<const FcChar8*>(kFontFamily)));
    if (!want) throw Error(ErrorCode::unsupported, std::string("font: fontconfig cannot parse \"") + kFontFamily + "\"");
    FcConfigSubstitute(nullptr, want.get(), FcMatchPattern);
    FcDefaultSubstitute(want.get());
    FcResult result = FcResultNoMatch;
    const FcPatternHandle match(FcFontMatch(nullptr, want.get(), &result));
    FcChar8* family = nullptr;
    if (!match || FcPatternGetString(match.get(), FC_FAMILY, 0, &family) != FcResultMatch ||
        std::string(reinterpret_cast<const char*>(family)) != kFontFamily)
        throw Error(ErrorCode::unsupported,
                    std::string("font: fontconfig finds no \"") + kFontFamily + "\"" +
                        (family ? std::string(" (its best match is \"") + reinterpret_cast<const char*>(family) + "\")" : "") +
                        "; install the package fonts-dejavu-core (scripts/install_deps.sh)");
    CairoFontFace face(cairo_ft_font_face_create_for_pattern(match.get()));  // keeps its own reference to match
    if (cairo_font_face_status(face.get()) != CAIRO_STATUS_SUCCESS)
        throw Error(ErrorCode::unsupported, std::string("font: cairo cannot use \"") + kFontFamily +
                                                "\": " + cairo_status_to_string(cairo_font_face_status(face.get())));
    return face;
}

CairoFontOptions make_options() {
    CairoFontOptions o(cairo_font_options_create());
    cairo_font_options_set_antialias(o.get(), CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(o.get(), CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(o.get(), CAIRO_HINT_METRICS_OFF);
    return o;
}

/// The scaled font of each size used so far (a handful).
cairo_scaled_font_t* scaled_font(double size) {
    static std::mutex mutex;
    static std::map<double, CairoScaledFont> fonts;
    const std::lock_guard<std::mutex> lock(mutex);
    CairoScaledFont& f = fonts[size];
    if (!f) {
        cairo_matrix_t font_matrix, ctm;
        cairo_matrix_init_scale(&font_matrix, size, size);
        cairo_matrix_init_identity(&ctm);
        f.reset(cairo_scaled_font_create(font_face(), &font_matrix, &ctm, font_options()));
        if (cairo_scaled_font_status(f.get()) != CAIRO_STATUS_SUCCESS)
            throw Error(ErrorCode::unsupported,
                        "font: cairo cannot scale \"" + std::string(kFontFamily) + "\" to " + std::to_string(size) + " px: " +
                            cairo_status_to_string(cairo_scaled_font_status(f.get())));
    }
    return f.get();
}

cairo_font_extents_t extents(double size) {
    cairo_font_extents_t e;
    cairo_scaled_font_extents(scaled_font(size), &e);
    return e;
}

}  // namespace

cairo_font_face_t* font_face() {
    static const CairoFontFace face = find_face();
    return face.get();
}

const cairo_font_options_t* font_options() {
    static const CairoFontOptions options = make_options();
    return options.get();
}

ShapedText shape_text(const std::string& text, double size) {
    ShapedText out;
    out.code_points = decode_utf8(text, "text \"" + text + "\"");
    if (out.code_points.empty()) return out;
    cairo_scaled_font_t* font = scaled_font(size);
    cairo_glyph_t* glyphs = nullptr;
    int count = 0;
    const cairo_status_t status =
        cairo_scaled_font_text_to_glyphs(font, 0, 0, text.data(), static_cast<int>(text.size()), &glyphs, &count, nullptr, nullptr, nullptr);
    const std::unique_ptr<cairo_glyph_t, CDeleter<cairo_glyph_t, cairo_glyph_free>> owned(glyphs);
    if (status != CAIRO_STATUS_SUCCESS)
        throw Error(ErrorCode::invalid_argument, "text \"" + text + "\": cairo cannot lay it out: " + cairo_status_to_string(status));
    if (static_cast<std::size_t>(count) != out.code_points.size())
        throw Error(ErrorCode::invalid_argument, "text \"" + text + "\": " + std::to_string(out.code_points.size()) +
                                                     " code points but " + std::to_string(count) + " glyphs");
    out.glyphs.assign(glyphs, glyphs + count);
    cairo_text_extents_t e;
    cairo_scaled_font_glyph_extents(font, glyphs, count, &e);
    out.width = e.x_advance;
    return out;
}

std::vector<TextGlyph> text_glyphs(const std::string& text, double size) {
    const ShapedText s = shape_text(text, size);
    std::vector<TextGlyph> out;
    for (std::size_t i = 0; i < s.glyphs.size(); ++i) out.push_back({s.code_points[i], s.glyphs[i].index});
    return out;
}

double text_width(const std::string& text, double size) { return shape_text(text, size).width; }
double text_ascent(double size) { return extents(size).ascent; }
double text_height(double size) {
    const cairo_font_extents_t e = extents(size);
    return e.ascent + e.descent;
}

}  // namespace vkattn::cli
