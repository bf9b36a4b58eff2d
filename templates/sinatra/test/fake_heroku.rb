# frozen_string_literal: true

require "json"
require "uri"
require "webrick"

# Heroku's identity service and Platform API, just enough of them to watch the
# asynchronous provisioning flow: an in-process WEBrick server on 127.0.0.1 and
# a free port that records every request and answers
#   POST .../oauth/token                      -> fresh tokens (a grant code works once: 400 after)
#   PATCH /addons/<uuid>/config               -> 200
#   POST /addons/<uuid>/actions/<action>      -> 200
# with failures injected on demand (#fail) and requests held back on demand (#hold).
class FakeHeroku
  Request = Struct.new(:method, :path, :headers, :body, keyword_init: true) do
    def form
      URI.decode_www_form(body.to_s).to_h
    end

    def json
      JSON.parse(body.to_s)
    end
  end

  # Dispatches every method (WEBrick's own proc handler knows no PATCH).
  class Servlet < WEBrick::HTTPServlet::AbstractServlet
    def service(req, res)
      @options.first.handle(req, res)
    end
  end

  attr_reader :url
  attr_accessor :expires_in # seconds the access tokens it hands out last

  def initialize
    @lock = Mutex.new
    @requests = []
    @failures = Hash.new { |h, k| h[k] = [] }
    @held = nil
    @tokens = 0
    @used_codes = {}
    @expires_in = 28_800
    @server = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: 0, AccessLog: [],
                                      Logger: WEBrick::Log.new(File::NULL))
    @server.mount("/", Servlet, self)
    @url = "http://127.0.0.1:#{@server.config[:Port]}"
    @thread = Thread.new { @server.start }
    # A shutdown before the loop runs would be lost: wait until it runs.
    wait_until("the fake Heroku starts") { @server.status == :Running }
  end

  def stop
    release
    @server.shutdown
    @thread.join(5) or raise "fake Heroku did not stop"
  end

  def callback_url(uuid)
    "#{url}/addons/#{uuid}"
  end

  # The next `times` requests to `path` get `status` (and `headers`).
  def fail(path, status, times: 1, headers: {})
    @lock.synchronize { @failures[path].concat([[status, headers]] * times) }
  end

  # Token requests wait (recorded, unanswered) until #release.
  def hold
    @lock.synchronize { @held = Queue.new }
  end

  def release
    held = @lock.synchronize { @held.tap { @held = nil } }
    held&.close
  end

  def requests
    @lock.synchronize { @requests.dup }
  end

  def requests_to(path)
    requests.select { |r| r.path == path }
  end

  # Polls until the block, given the requests so far, is truthy; fails after `timeout` s.
  def wait_for(timeout: 5, &block)
    wait_until(-> { "requests (saw #{summary})" }, timeout: timeout) { block.call(requests) }
  end

  # `what` (a string, or a lambda giving one) names what is awaited in the failure.
  def wait_until(what, timeout: 5)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      result = yield
      return result if result
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        raise Minitest::Assertion, "still waiting for #{what.respond_to?(:call) ? what.call : what} after #{timeout} s"
      end

      sleep 0.01
    end
  end

  def summary
    requests.map { |r| "#{r.method} #{r.path}" }.inspect
  end

  def handle(req, res)
    headers = req.header.transform_values { |v| v.join(", ") }
    request = Request.new(method: req.request_method, path: req.path, headers: headers, body: req.body)
    held, failure = @lock.synchronize do
      @requests << request
      [@held, @failures[req.path].shift]
    end
    held&.pop if req.path.end_with?("/oauth/token")

    res["Content-Type"] = "application/json"
    if failure
      status, headers = failure
      res.status = status
      headers.each { |name, value| res[name] = value }
      res.body = JSON.generate(id: "fake", message: "injected #{status}")
    elsif req.path.end_with?("/oauth/token")
      token(request.form, res)
    else
      res.body = JSON.generate(id: "fake", state: "ok")
    end
  end

  private

  def token(form, res)
    if form["grant_type"] == "authorization_code" &&
       @lock.synchronize { @used_codes.key?(form["code"]).tap { @used_codes[form["code"]] = true } }
      res.status = 400
      res.body = JSON.generate(id: "invalid_grant", message: "the grant code was already exchanged")
      return
    end
    n = @lock.synchronize { @tokens += 1 }
    res.body = JSON.generate(access_token: "access-token-#{n}", refresh_token: "refresh-token-#{n}",
                             expires_in: @expires_in, token_type: "Bearer", user_id: "user-1")
  end
end
