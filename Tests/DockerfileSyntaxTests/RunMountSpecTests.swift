import Testing

@testable import DockerfileSyntax

@Suite struct RunMountSpecTests {
    @Test func defaultsFollowBuildKit() throws {
        let bind = try RunMountSpec.parse("target=/src")
        #expect(bind.type == .bind)
        #expect(bind.readOnly)
        let cache = try RunMountSpec.parse("type=cache,target=/root/.cache,sharing=locked,mode=0700,uid=1000,gid=2")
        #expect(cache.type == .cache)
        #expect(!cache.readOnly)
        #expect(cache.sharing == .locked)
        #expect(cache.mode == 0o700)
        #expect(cache.uid == 1000 && cache.gid == 2)
        let tmpfs = try RunMountSpec.parse("type=tmpfs,dst=/t,size=64m")
        #expect(tmpfs.size == Int64(67_108_864))
        #expect(!tmpfs.readOnly)
        let rw = try RunMountSpec.parse("type=bind,from=builder,src=/out,destination=/in,rw")
        #expect(!rw.readOnly)
        #expect(rw.from == "builder" && rw.source == "/out" && rw.target == "/in")
        let ro = try RunMountSpec.parse("type=cache,target=/c,readonly=true")
        #expect(ro.readOnly)
        let readwrite = try RunMountSpec.parse("target=/c,readwrite=1")
        #expect(!readwrite.readOnly)
    }

    @Test func secretsAndSSH() throws {
        let secret = try RunMountSpec.parse("type=secret,id=npmrc,target=/root/.npmrc,required")
        #expect(secret.secretID == "npmrc")
        #expect(secret.required)
        #expect(try RunMountSpec.parse("type=secret,target=/run/secrets/tok").secretID == "tok")
        #expect(try RunMountSpec.parse("type=secret,src=aws").secretID == "aws")
        let env = try RunMountSpec.parse("type=secret,id=tok,env=TOKEN")
        #expect(env.env == "TOKEN" && env.target == nil)
        let ssh = try RunMountSpec.parse("type=ssh,required=true,mode=0666")
        #expect(ssh.type == .ssh && ssh.required && ssh.mode == 0o666)
    }

    @Test func quotedFieldsAndExpansion() throws {
        let quoted = try RunMountSpec.parse("\"target=/a,b\",type=cache")
        #expect(quoted.target == "/a,b")
        let expanded = try RunMountSpec.parse("type=cache,target=$DIR,id=${ID}") { value in
            value.replacingOccurrences(of: "$DIR", with: "/go/pkg").replacingOccurrences(of: "${ID}", with: "gomod")
        }
        #expect(expanded.target == "/go/pkg" && expanded.id == "gomod")
        // Without an expander (the planner's check), values with variables are not interpreted.
        let deferred = try RunMountSpec.parse("type=cache,target=/c,mode=$MODE")
        #expect(deferred.mode == nil)
    }

    @Test(arguments: [
        ("type=bind,foo=bar", "unexpected key 'foo'"),
        ("type=bind", "target required"),
        ("type=weird,target=/a", "unsupported mount type \"weird\""),
        ("type=bind,target=/a,mode=0700", "mode not allowed for \"bind\""),
        ("type=cache,target=/a,required", "unexpected key 'required' for mount type 'cache'"),
        ("type=secret,id=x,sharing=locked", "invalid cache sharing set for secret mount"),
        ("type=cache,target=/a,sharing=sometimes", "unsupported sharing value"),
        ("type=bind,target=/a,size=1m", "unexpected key 'size'"),
        ("type=cache,target=/a,mode=999", "invalid mode"),
        ("type=cache,target=/a,uid=root", "invalid uid"),
        ("type=secret,id=a,src=b", "both source and id"),
        ("type=secret,id=a,from=x", "should not have a from"),
        ("target=/a,bogus", "must be a key=value pair"),
        ("\"target=/a", "unterminated quote"),
    ])
    func errorsNameTheProblem(text: String, message: String) {
        #expect {
            _ = try RunMountSpec.parse(text)
        } throws: { error in
            (error as? RunMountError)?.message.contains(message) == true
        }
    }
}
