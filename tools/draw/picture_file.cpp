#include "draw/picture_file.hpp"

#include <cairo-svg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "vkattn/error.hpp"

namespace vkattn::cli {
namespace {

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

/// The open file and the first write error, for cairo's stream callbacks.
struct Sink {
    std::FILE* file = nullptr;
    int error = 0;
};

cairo_status_t write_to(void* closure, const unsigned char* data, unsigned int length) {
    Sink& s = *static_cast<Sink*>(closure);
    if (std::fwrite(data, 1, length, s.file) != length) {
        if (!s.error) s.error = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

[[noreturn]] void cannot_write(const std::string& option, const std::string& path, const std::string& why) {
    throw Error(ErrorCode::io_error, option + ": cannot write '" + path + "': " + why);
}

void check(cairo_status_t status, const Sink& sink, const std::string& option, const std::string& path) {
    if (sink.error) cannot_write(option, path, std::strerror(sink.error));
    if (status != CAIRO_STATUS_SUCCESS) cannot_write(option, path, cairo_status_to_string(status));
}

void paint(cairo_surface_t* target, const Drawing& d) {
    const CairoContext cr(cairo_create(target));
    cairo_set_source_surface(cr.get(), d.recording(), 0, 0);
    cairo_paint(cr.get());
}

}  // namespace

PictureFormat picture_format(const std::string& path, const std::string& option) {
    const std::size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
    const std::string ext = dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : lower(path.substr(dot));
    if (ext == ".png") return PictureFormat::png;
    if (ext == ".svg") return PictureFormat::svg;
    throw Error(ErrorCode::invalid_argument,
                option + ": '" + path + "' " + (ext.empty() ? "has no extension" : "has the extension " + path.substr(dot)) +
                    "; the extension chooses the format: .png or .svg");
}

void write_picture(const Drawing& d, const std::string& path, const std::string& option) {
    const PictureFormat format = picture_format(path, option);
    errno = 0;
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!file) cannot_write(option, path, std::strerror(errno ? errno : EIO));
    Sink sink{file.get(), 0};
    if (format == PictureFormat::png) {
        const CairoSurface image(cairo_image_surface_create(CAIRO_FORMAT_RGB24, d.width(), d.height()));
        paint(image.get(), d);
        check(cairo_surface_write_to_png_stream(image.get(), write_to, &sink), sink, option, path);
    } else {
        const CairoSurface svg(cairo_svg_surface_create_for_stream(write_to, &sink, d.width(), d.height()));
        cairo_svg_surface_set_document_unit(svg.get(), CAIRO_SVG_UNIT_PX);
        paint(svg.get(), d);
        cairo_surface_finish(svg.get());  // writes the document
        check(cairo_surface_status(svg.get()), sink, option, path);
    }
    if (std::fflush(file.get()) != 0) cannot_write(option, path, std::strerror(errno ? errno : EIO));
}

}  // namespace vkattn::cli
