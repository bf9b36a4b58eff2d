# frozen_string_literal: true

require "json"
require "stringio"

# Rack middleware: refuses request bodies over `max_bytes` with 413 and a JSON
# message, before anything parses them. A declared Content-Length is checked at
# once; a body without one (chunked) is read up to the limit and no further.
class BodyLimit
  def initialize(app, max_bytes: 64 * 1024)
    @app = app
    @max_bytes = max_bytes
  end

  def call(env)
    length = env["CONTENT_LENGTH"]
    return too_large if length && length.to_i > @max_bytes

    input = env["rack.input"]
    if input && length.nil?
      body = input.read(@max_bytes + 1).to_s
      return too_large if body.bytesize > @max_bytes

      env["rack.input"] = StringIO.new(body)
    end
    @app.call(env)
  end

  private

  def too_large
    [413, { "content-type" => "application/json" },
     [JSON.generate(message: "Request body too large: at most #{@max_bytes} bytes")]]
  end
end
