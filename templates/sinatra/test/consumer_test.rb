# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "puma"
require "puma/server"

# examples/consumer.rb against the service served by Puma on a loopback port.
class ConsumerTest < Minitest::Test
  include TestHelpers

  CONSUMER = File.expand_path("../examples/consumer.rb", __dir__)
  CONFIG_VAR = ADDON[:config_var]

  def setup
    reset_database
    @server = Puma::Server.new(AddonApp)
    @port = @server.add_tcp_listener("127.0.0.1", 0).addr[1]
    @server.run
  end

  def teardown
    @server.stop(true)
  end

  def consumer(url)
    Open3.capture2e({ CONFIG_VAR => url }, RbConfig.ruby, CONSUMER)
  end

  def provisioned_url
    resource, = resources.provision(plan: "test", uuid: SecureRandom.uuid, public_url: "http://127.0.0.1:#{@port}")
    [resource, resources.config_url(resource)]
  end

  def test_prints_the_status_and_exits_0
    resource, url = provisioned_url
    output, status = consumer(url)
    assert status.success?, output
    assert_match(/resource #{resource.id}: provisioned on plan test \(1 of 1000 API calls used\)/, output)
    refute_includes output, URI.parse(url).password
  end

  def test_is_refused_once_deprovisioned
    resource, url = provisioned_url
    resources.deprovision(resource.id)
    output, status = consumer(url)
    refute status.success?
    assert_match(/answered 401/, output)
    refute_includes output, URI.parse(url).password
  end

  def test_says_so_when_the_variable_is_missing
    output, status = consumer("")
    refute status.success?
    assert_match(/#{CONFIG_VAR} is not set/, output)
  end
end
